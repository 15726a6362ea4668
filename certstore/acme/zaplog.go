package acme

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger returns a zap logger, as certmagic wants, that writes to log.
// certmagic's info messages are details of one attempt (the manager logs
// the attempt itself), so they become debug; warnings and errors become
// warnings. Every message and string field goes through redact.
func newZapLogger(log *slog.Logger, redact func(string) string) *zap.Logger {
	return zap.New(&slogCore{log: log, redact: redact})
}

// slogCore is a zapcore.Core writing to a slog.Logger.
type slogCore struct {
	log    *slog.Logger
	redact func(string) string
	fields []zapcore.Field
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.InfoLevel:
		return slog.LevelDebug
	default:
		return slog.LevelWarn
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.log.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, redact: c.redact, fields: append(c.fields[:len(c.fields):len(c.fields)], fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys)+1)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("component", e.LoggerName))
	}
	for _, k := range keys {
		attrs = append(attrs, slog.String(k, c.redact(fmt.Sprint(enc.Fields[k]))))
	}
	c.log.LogAttrs(context.Background(), slogLevel(e.Level), c.redact(e.Message), attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }
