package server

import (
	"log/slog"
	"time"
)

var nopLog = slog.New(slog.DiscardHandler)

func timeNow() time.Time { return time.Now() }
