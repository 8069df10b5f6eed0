// Package bench holds the helpers of `make bench` (scripts/bench.sh):
// latency summaries, process memory readings and a timer for fresh
// processes. The load generator is in bench/loadgen, the programs in
// bench/cmd.
package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary describes a set of latencies.
type Summary struct {
	N      int
	Min    time.Duration
	Median time.Duration
	P99    time.Duration
	Max    time.Duration
}

// Summarize returns the summary of d; d itself is not reordered. The
// quantiles are nearest-rank: the smallest sample at or above the fraction.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return Summary{N: len(s), Min: s[0], Median: Quantile(s, 0.5), P99: Quantile(s, 0.99), Max: s[len(s)-1]}
}

// Quantile returns the nearest-rank q-quantile (0 < q <= 1) of sorted, a
// slice in ascending order; 0 for an empty slice.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1 // ceil(q*n) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// Ratio returns a/b, or 0 when b is 0.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// RSS returns the resident set size of process pid in bytes, from the VmRSS
// line of /proc/PID/status (Linux only).
func RSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS finds "VmRSS:   1234 kB" in a /proc/PID/status text.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("bench: unexpected VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: unexpected VmRSS line %q", sc.Text())
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("bench: no VmRSS line (a kernel thread, or not Linux)")
}

// TimeRun starts cmd and waits for it, returning the wall time from just
// before the start to just after the wait: what a shell script pays for one
// call. A non-zero exit is an error.
func TimeRun(cmd *exec.Cmd) (time.Duration, error) {
	t0 := time.Now()
	err := cmd.Run()
	return time.Since(t0), err
}

// MiB formats a byte count in mebibytes.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Ms formats a duration in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user plus system CPU time process pid has used, all
// threads, from /proc/PID/stat (10 ms resolution; Linux only).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat
// line; the command name in parentheses may hold spaces.
func parseStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bench: malformed /proc/PID/stat")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc/PID/stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bench: malformed times in /proc/PID/stat")
	}
	return time.Duration(u+st) * time.Second / clockTicks, nil
}
