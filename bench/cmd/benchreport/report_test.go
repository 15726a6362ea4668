package main

import (
	"bytes"
	"strings"
	"testing"
)

const sampleLog = `# 2026-12-03 16:00 UTC, 2 CPUs
config run tenants=1000 repeats=2 window_s=10
hs portico 1 RESULT conns_per_s=3000 hs_per_cpu_s=3400 server_cpu=0.88 p50_ms=5 p99_ms=9 client_cpu=0.97 other_cpu=0.01 errors=0
hs portico 2 RESULT conns_per_s=3100 hs_per_cpu_s=3600 server_cpu=0.86 p50_ms=5 p99_ms=9 client_cpu=0.97 other_cpu=0.01 errors=0
hs nginx 1 RESULT conns_per_s=3000 hs_per_cpu_s=3200 server_cpu=0.98 p50_ms=5 p99_ms=9 client_cpu=0.9 other_cpu=0.01 errors=0
many portico 1 RESULT conns_per_s=2500 hs_per_cpu_s=2700 server_cpu=0.9 p50_ms=6 p99_ms=11 client_cpu=0.9 other_cpu=0.01 errors=2
ka portico 1 KA req_per_s=40000 front_cpu=0.5 upstream_cpu=0.5 machine_cpu=1.9 errors=0
ka upstream 1 KA req_per_s=100000 front_cpu=1 upstream_cpu=1 machine_cpu=1.9 errors=0
start portico many respond PROBE ok=1 elapsed_ms=300.0 tries=3
start portico single respond PROBE ok=1 elapsed_ms=9000.0 tries=3
mem portico idle MEM pss_mib=20.0 rss_mib=22.0
mem portico loaded MEM pss_mib=30.0 rss_mib=32.0
churn portico 1 VISIBLE PROBE ok=1 elapsed_ms=400.0 tries=2
churn portico all RESULT ok=1000 errors=0 hs_per_cpu_s=2600 changes=1
churnka portico all KA req_per_s=20000 errors=unknown changes=3
kar portico 1 KA req_per_s=50000 front_cpu=0.8 machine_cpu=1.9 errors=0
kar gobare 1 KA req_per_s=60000 front_cpu=0.75 machine_cpu=1.9 errors=0
`

func TestReport(t *testing.T) {
	recs, header, err := parse(strings.NewReader(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report(&out, recs, header, true)
	got := out.String()

	wants := []string{
		"| portico | 3500 (3400–3600) | 1.09 | - | 3050 (3000–3100) |", // median of two repeats, ratio to nginx
		"| portico | 80000 | 0.80 | 40000 | 40000 | 0.50 | 0.50 | 0 |", // per front CPU, ÷ direct, per both
		"| portico | 0.30 | 20.0 | 30.0 | 32.0 |",                      // start-up from the many set only
		"| new connection per request, all tenants | 1 | 1000 handshakes (2600 per server-CPU-s) | 0 | 400 |",
		"| keep-alive, proxied | 3 | 20000 req/s | 1 | - |",                                       // an unreadable count fails
		"| portico | 62500 | - | 0.78 | 50000 | 0.80 | 0 |",                                       // answered by the front itself
		"| full handshakes, 1 tenant, per server-CPU-s | > 3,300 | 3500 | met | 3573 via nginx |", // 3500 / 3200 × 3267
		"| full handshakes, 1000 tenants, per server-CPU-s | > 2,800 | 2700 | **missed** | - |",
		"| keep-alive proxying, ÷ upstream hit directly | ≥ 0.70 | 0.80 | met | - |",
		"| failed requests, all Portico runs (with store changes) | 0 | 3 (4 rounds of changes) | **missed** | - |",
	}
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("report lacks %q; got:\n%s", w, got)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   series
		want float64
	}{
		{"empty", nil, 0},
		{"odd", series{3, 1, 2}, 2},
		{"even", series{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.median(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
