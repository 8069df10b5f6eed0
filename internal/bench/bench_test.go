package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name string
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of 100", hundred, 0.99, 99 * time.Millisecond},
		{"max", hundred, 1, 100 * time.Millisecond},
		{"tiny q", hundred, 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quantile(tt.in, tt.q); got != tt.want {
				t.Errorf("Quantile(%v, %v) = %v, want %v", tt.in, tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarizeKeepsOrder(t *testing.T) {
	in := []time.Duration{3, 1, 2}
	s := Summarize(in)
	if s != (Summary{N: 3, Min: 1, Median: 2, P99: 3, Max: 3}) {
		t.Errorf("Summarize = %+v", s)
	}
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Errorf("input reordered: %v", in)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("Summarize(nil) is not zero")
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"typical", "Name:\tx\nVmPeak:\t 100 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n", 2048 << 10, false},
		{"missing", "Name:\tkthreadd\n", 0, true},
		{"bad unit", "VmRSS:\t 12 MB\n", 0, true},
		{"bad number", "VmRSS:\t x kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseVmRSS = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestRSSOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	n, err := RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if n < 1<<20 {
		t.Errorf("RSS of a Go test binary = %d bytes, want at least 1 MiB", n)
	}
}

func TestRatioAndFormats(t *testing.T) {
	if r := Ratio(3*time.Millisecond, 2*time.Millisecond); r != 1.5 {
		t.Errorf("Ratio = %v", r)
	}
	if r := Ratio(1, 0); r != 0 {
		t.Errorf("Ratio by zero = %v", r)
	}
	if s := MiB(3 << 19); s != "1.5 MiB" {
		t.Errorf("MiB = %q", s)
	}
	if s := Ms(1500 * time.Microsecond); s != "1.50 ms" {
		t.Errorf("Ms = %q", s)
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"typical", "1234 (entra-helperd) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 50 0 0 20 0 8 0 100 0 0\n", 2 * time.Second, false},
		{"name with spaces and parens", "7 (a b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 0 0\n", 70 * time.Millisecond, false},
		{"no parens", "7 x R 1", 0, true},
		{"short", "7 (x) R 1 2 3", 0, true},
		{"not numbers", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 a b 0 0\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatCPU = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
