package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestReloadHooks checks that every step runs in order, that a failing
// step is logged and does not stop the ones after it.
func TestReloadHooks(t *testing.T) {
	var ran []string
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	var h reloadHooks
	h.Add("discovery", func(context.Context) error {
		ran = append(ran, "discovery")
		return errors.New("folder gone")
	})
	h.Add("store", func(context.Context) error {
		ran = append(ran, "store")
		return nil
	})
	if ok := h.Run(context.Background(), log); ok {
		t.Error("Run reported success with a failing step")
	}
	if strings.Join(ran, ",") != "discovery,store" {
		t.Errorf("ran %v, want discovery then store", ran)
	}
	for _, want := range []string{`step=discovery err="folder gone"`, "reload step done", "step=store"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
