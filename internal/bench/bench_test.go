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
