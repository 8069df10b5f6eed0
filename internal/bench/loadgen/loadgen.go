// Package loadgen drives the daemon's two surfaces with a fixed set of
// concurrent clients for a fixed time and measures answers per second and
// latency: the Unix socket (one ipc.Call, so one connection, per request, as
// entra-helper does) and the Databricks metadata endpoint (HTTP GET over
// keep-alive connections, as the SDKs do).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/entra-helper/entra-helper/internal/bench"
	"github.com/entra-helper/entra-helper/ipc"
)

// Result is what one run measured.
type Result struct {
	Clients  int
	Answers  int             // successful requests in the timed window
	Errors   int             // failed requests in the timed window
	FirstErr error           // the first failure, if any
	Elapsed  time.Duration   // the timed window
	Latency  bench.Summary   // of the successful requests
	Samples  []time.Duration // the successful requests' latencies, for Merge
}

// Merge combines runs of the same load (e.g. interleaved slices of one
// measurement) into one result: counts and windows add up, the latencies
// are summarised together.
func Merge(rs ...Result) Result {
	var m Result
	for _, r := range rs {
		m.Clients = r.Clients
		m.Answers += r.Answers
		m.Errors += r.Errors
		m.Elapsed += r.Elapsed
		m.Samples = append(m.Samples, r.Samples...)
		if m.FirstErr == nil {
			m.FirstErr = r.FirstErr
		}
	}
	m.Latency = bench.Summarize(m.Samples)
	return m
}

// Rate is the successful answers per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Answers) / r.Elapsed.Seconds()
}

// Socket sends req to the daemon at path from clients goroutines, each
// calling again as soon as it has its answer, for d. An error answer (such
// as the daemon's "busy" of its rate limit) counts as an error.
func Socket(ctx context.Context, path string, req *ipc.Request, clients int, d time.Duration) Result {
	return Run(ctx, clients, d, func(ctx context.Context) error {
		resp, err := ipc.Call(ctx, path, req, nil)
		if err != nil {
			return err
		}
		if resp.Token == nil || resp.Token.AccessToken == "" {
			return errors.New("loadgen: answer without a token")
		}
		return nil
	})
}

// HTTP sends GET url with header from clients goroutines sharing one
// keep-alive client with a connection per goroutine, for d. A request
// succeeds on status 200 with a body.
func HTTP(ctx context.Context, url string, header http.Header, clients int, d time.Duration) Result {
	tr := &http.Transport{
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		MaxConnsPerHost:     clients,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return Run(ctx, clients, d, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header = header
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || n == 0 {
			return fmt.Errorf("loadgen: HTTP status %d, %d bytes", resp.StatusCode, n)
		}
		return nil
	})
}

// Run calls one from clients goroutines in a loop for d and measures each
// call. Every goroutine makes one call before the window opens (a warm-up
// that also opens keep-alive connections; a failure there is reported in
// FirstErr but not counted); the window opens when all have.
func Run(ctx context.Context, clients int, d time.Duration, one func(context.Context) error) Result {
	clients = max(clients, 1)
	type local struct {
		lat      []time.Duration
		errs     int
		firstErr error
	}
	locals := make([]local, clients)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	var windowStart time.Time
	ready.Add(clients)
	done.Add(clients)
	for i := range clients {
		go func() {
			defer done.Done()
			l := &locals[i]
			l.lat = make([]time.Duration, 0, 4096)
			if err := one(ctx); err != nil {
				l.firstErr = err // reported, not counted: the window may still succeed
			}
			ready.Done()
			<-start
			end := windowStart.Add(d)
			for {
				t0 := time.Now()
				if !t0.Before(end) || ctx.Err() != nil {
					return
				}
				err := one(ctx)
				took := time.Since(t0)
				if err != nil {
					l.errs++
					if l.firstErr == nil {
						l.firstErr = err
					}
					continue
				}
				l.lat = append(l.lat, took)
			}
		}()
	}
	ready.Wait()
	windowStart = time.Now()
	close(start)
	done.Wait()
	res := Result{Clients: clients, Elapsed: time.Since(windowStart)}
	var all []time.Duration
	for _, l := range locals {
		all = append(all, l.lat...)
		res.Errors += l.errs
		if res.FirstErr == nil {
			res.FirstErr = l.firstErr
		}
	}
	res.Answers = len(all)
	res.Latency = bench.Summarize(all)
	res.Samples = all
	return res
}
