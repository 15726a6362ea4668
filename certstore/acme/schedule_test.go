package acme

import (
	"testing"
	"time"

	"github.com/portico-proxy/portico/certstore"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, time.Minute},
		{2, 2 * time.Minute},
		{3, 4 * time.Minute},
		{6, 32 * time.Minute},
		{7, time.Hour},
		{100, time.Hour},
	}
	for _, tt := range tests {
		if got := backoff(tt.failures, time.Minute, time.Hour); got != tt.want {
			t.Errorf("backoff(%d): got %s, want %s", tt.failures, got, tt.want)
		}
	}
}

func TestNextAttempt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{RenewalWindowRatio: 1.0 / 3}
	const domain = "shop.test"
	valid := &certstore.KeyPair{
		DNSNames:  []string{"shop.test", "*.shop.test"},
		NotBefore: t0,
		NotAfter:  t0.Add(90 * 24 * time.Hour),
	}
	onlyApex := &certstore.KeyPair{DNSNames: []string{"shop.test"}, NotBefore: t0, NotAfter: valid.NotAfter}

	tests := []struct {
		name string
		kp   *certstore.KeyPair
		st   state
		want time.Time
	}{
		{"no certificate: at once", nil, state{}, time.Time{}},
		{"certificate lacks the wildcard: at once", onlyApex, state{}, time.Time{}},
		{"valid certificate: when a third of its life is left", valid, state{LastResult: ResultOK},
			t0.Add(60 * 24 * time.Hour)},
		{"ARI suggests earlier: then", valid, state{ARISelected: t0.Add(50 * 24 * time.Hour)},
			t0.Add(50 * 24 * time.Hour)},
		{"ARI suggests later: the ratio wins", valid, state{ARISelected: t0.Add(80 * 24 * time.Hour)},
			t0.Add(60 * 24 * time.Hour)},
		{"after failures: the back-off's end, even without a certificate", nil,
			state{Failures: 2, NextAttempt: t0.Add(time.Hour)}, t0.Add(time.Hour)},
		{"after failures: the back-off's end, even when renewal is due", valid,
			state{Failures: 1, NextAttempt: t0.Add(70 * 24 * time.Hour)}, t0.Add(70 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cfg.nextAttempt(domain, tt.kp, tt.st); !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
