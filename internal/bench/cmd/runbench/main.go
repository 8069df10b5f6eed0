//go:build linux

// Command runbench is `make bench` (scripts/bench.sh builds it and runs it
// from the repository root): it measures entra-helper against the floor (a
// hello-world Go program) and its own targets in one run, and prints one
// Markdown table.
//
// It starts a fake Entra ID (fake-entra) and daemons in throwaway HOMEs with
// the encrypted file store (store = "file", a fresh 32-byte key file), so
// no Secret Service is needed, then measures: warm `entra-helper token`
// start-up against hello-world (interleaved fresh processes); the daemon's
// throughput and latency over the socket and the Databricks metadata
// endpoint at 1, 8 and 64 clients; concurrent cold requests against the
// calls counted at the fake; the broker's simulated day; RSS idle and with
// 100 profiles x 3 scopes cached; time to first token after a restart; and
// the Go benchmarks of the hot path with -benchmem.
//
//	runbench -bin bin -fake /tmp/fake-entra -hello /tmp/hello [-runs 200] [-duration 3s]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/entra-helper/entra-helper/internal/bench"
	"github.com/entra-helper/entra-helper/internal/bench/loadgen"
	"github.com/entra-helper/entra-helper/internal/tcpowner"
	"github.com/entra-helper/entra-helper/ipc"
)

const (
	scopeDatabricks = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
	scopeManagement = "https://management.core.windows.net//.default"
	scopeGraph      = "https://graph.microsoft.com/.default"
)

func main() {
	var r runner
	flag.StringVar(&r.bin, "bin", "bin", "directory of the built entra-helper and entra-helperd")
	flag.StringVar(&r.fakeBin, "fake", "", "the fake-entra binary")
	flag.StringVar(&r.helloBin, "hello", "", "the hello-world binary (built like entra-helper)")
	flag.StringVar(&r.rawToken, "raw-token", "", "optional: the rawtoken floor (internal/bench/cmd/rawtoken), timed beside entra-helper token")
	flag.StringVar(&r.floorBin, "floor", "", "the floor binary (internal/bench/cmd/floor): bare ipcserver.Server and net/http references")
	flag.StringVar(&r.profileDir, "profile", "", "write CPU profiles of the daemon (built with -tags benchprofile) at 8 clients, and the client's traces, to this directory")
	flag.IntVar(&r.runs, "runs", 200, "fresh processes of each kind for the start-up comparison")
	flag.DurationVar(&r.dur, "duration", 5*time.Second, "length of each load measurement (all its slices)")
	flag.IntVar(&r.rounds, "rounds", 5, "slices each load measurement is cut into, interleaved with the other surfaces'")
	flag.IntVar(&r.profiles, "profiles", 100, "profiles of the memory run")
	flag.IntVar(&r.cold, "cold", 200, "concurrent cold requests")
	flag.BoolVar(&r.goBench, "go-bench", true, "run the Go benchmarks and the soak simulation (needs the go tool and the source)")
	out := flag.String("out", "", "also write the table to this file")
	flag.Parse()
	if r.fakeBin == "" || r.helloBin == "" || r.floorBin == "" {
		fmt.Fprintln(os.Stderr, "runbench: -fake, -hello and -floor are required (scripts/bench.sh builds them)")
		os.Exit(2)
	}
	if r.profileDir != "" {
		if err := os.MkdirAll(r.profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "runbench:", err)
			os.Exit(1)
		}
	}
	t0 := time.Now()
	failed := r.run()
	table := r.table(time.Since(t0))
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "runbench:", err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// runner holds the settings and the rows measured so far.
type runner struct {
	bin, fakeBin, helloBin string
	rawToken               string
	floorBin, profileDir   string
	runs, profiles, cold   int
	rounds                 int
	dur                    time.Duration
	goBench                bool

	work  string
	fake  *fakeEntra
	floor *floorProc
	rows  []row
}

// row is one line of the table.
type row struct {
	area, what, result, target, verdict string
}

func (r *runner) add(area, what, result, target string, ok *bool) {
	v := ""
	if ok != nil {
		v = "met"
		if !*ok {
			v = "**missed**"
		}
	}
	r.rows = append(r.rows, row{area, what, result, target, v})
}

func (r *runner) fail(area, what string, err error) {
	r.rows = append(r.rows, row{area, what, "FAILED: " + oneLine(err.Error()), "", "**failed**"})
	progress("  FAILED: %v", err)
}

func ptr(b bool) *bool { return &b }

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// run measures everything; it reports whether any part failed.
func (r *runner) run() bool {
	var err error
	if r.work, err = os.MkdirTemp("", "eh-bench"); err != nil {
		r.fail("setup", "work directory", err)
		return true
	}
	defer os.RemoveAll(r.work)
	secret, password := randomSecret(), randomSecret()
	spSecret, pwFile := filepath.Join(r.work, "sp-secret"), filepath.Join(r.work, "password")
	if err := os.WriteFile(spSecret, []byte(secret), 0o600); err != nil {
		r.fail("setup", "secret file", err)
		return true
	}
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		r.fail("setup", "password file", err)
		return true
	}
	progress("starting the fake Entra")
	if r.fake, err = startFake(r.fakeBin, r.work, spSecret, pwFile); err != nil {
		r.fail("setup", "fake Entra", err)
		return true
	}
	defer r.fake.stop()
	progress("starting the floor (bare ipcserver.Server and net/http)")
	if r.floor, err = startFloor(r.floorBin, r.work); err != nil {
		r.fail("setup", "floor", err)
		return true
	}
	defer r.floor.stop()

	r.mainEnv(secret, password)
	r.memoryEnv(secret)
	if r.goBench {
		r.goBenchmarks()
		r.soak()
	}
	r.sizes()
	for _, rw := range r.rows {
		if rw.verdict == "**failed**" {
			return true
		}
	}
	return false
}

// mainConfig has a service principal and a user signed in with a password
// (whose restart goes through the refresh token).
const mainConfig = `default_profile = "sp"

[daemon]
store = "file"
store_key_file = "{key}"
state_dir = "{state}"
metadata_listen = "127.0.0.1:0"
identity_listen = "127.0.0.1:0"

[profiles.sp]
flow = "client-secret"
tenant = "{tenant}"
client_id = "` + spClientID + `"
authority_host = "{authority}"
databricks_host = "` + databricks + `"

[profiles.user]
flow = "username-password"
tenant = "{tenant}"
client_id = "` + userClientID + `"
username = "` + userName + `"
authority_host = "{authority}"
`

// mainEnv runs the start-up, load, cold-request and restart measurements
// on one daemon.
func (r *runner) mainEnv(secret, password string) {
	e, err := newEnv(filepath.Join(r.work, "main"), r.bin, mainConfig, r.fake)
	if err != nil {
		r.fail("setup", "main environment", err)
		return
	}
	defer func() { e.stop(syscall.SIGTERM) }()
	if r.profileDir != "" {
		e.pprofFile = filepath.Join(r.work, "pprof-addr")
		e.environ = append(e.environ, "ENTRA_HELPERD_PPROF_FILE="+e.pprofFile)
	}
	progress("starting entra-helperd (file store)")
	ready, err := e.start()
	if err != nil {
		r.fail("setup", "daemon start", err)
		return
	}
	r.add("daemon", "start to first answer (status), fresh state", bench.Ms(ready), "", nil)
	time.Sleep(300 * time.Millisecond)
	if rss, err := bench.RSS(e.pid); err == nil {
		r.add("memory", "daemon RSS idle after start (2 profiles, none signed in)", bench.MiB(rss), "", nil)
	}
	if _, err := e.client(false, secret, "login", "-p", "sp", "--secret-stdin"); err != nil {
		r.fail("setup", "login -p sp", err)
		return
	}
	if _, err := e.client(false, password, "login", "-p", "user", "--password-stdin"); err != nil {
		r.fail("setup", "login -p user", err)
		return
	}
	if _, err := e.client(false, "", "token", "-p", "sp"); err != nil {
		r.fail("setup", "token -p sp", err)
		return
	}
	// The socket runs go last before the restart: ipc's per-uid rate limit
	// (a token bucket) would otherwise refuse the phases after them.
	r.startup(e)
	r.clientTraces(e)
	r.httpLoad(e)
	r.coldRequests(e)
	r.socketLoad(e)
	if rss, err := bench.RSS(e.pid); err == nil {
		r.add("memory", "daemon RSS after the load runs (2 profiles)", bench.MiB(rss), "", nil)
	}
	r.restart(e)
}

// startup compares fresh `entra-helper token` processes with hello-world,
// interleaved, after a few unrecorded runs of each.
func (r *runner) startup(e *env) {
	progress("start-up: %d interleaved runs each of hello-world, entra-helper token, entra-helper version, rawtoken and credential get", r.runs)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		r.fail("client", "start-up", err)
		return
	}
	defer devnull.Close()
	env := e.clientEnv(false)
	mk := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(name, args...)
		c.Env, c.Stdout, c.Stderr = env, devnull, devnull
		return c
	}
	client := filepath.Join(e.bin, "entra-helper")
	kinds := []func() *exec.Cmd{
		func() *exec.Cmd { return mk(r.helloBin) },
		func() *exec.Cmd { return mk(client, "token", "-p", "sp") },
		func() *exec.Cmd { return mk(client, "version") },
	}
	names := []string{"hello", "token", "version"}
	if r.rawToken != "" {
		kinds = append(kinds, func() *exec.Cmd {
			c := mk(r.rawToken)
			c.Env = append(c.Env, "ENTRA_HELPER_PROFILE=sp")
			return c
		})
		names = append(names, "rawtoken")
	}
	// git's credential helper: one get as git sends it (the first, unrecorded
	// run fetches the Azure DevOps token).
	kinds = append(kinds, func() *exec.Cmd {
		c := mk(client, "credential", "-p", "sp", "get")
		c.Stdin = strings.NewReader("protocol=https\nhost=dev.azure.com\npath=contoso/project/_git/repo\n\n")
		return c
	})
	names = append(names, "credential get")
	gitKind := len(kinds) - 1
	samples := make([][]time.Duration, len(kinds))
	const warm = 10
	for i := range r.runs + warm {
		for j := range kinds {
			k := (i + j) % len(kinds) // rotate the order
			d, err := bench.TimeRun(kinds[k]())
			if err != nil {
				r.fail("client", "start-up", fmt.Errorf("%s: %v", names[k], err))
				return
			}
			if i >= warm {
				samples[k] = append(samples[k], d)
			}
		}
	}
	r.instructions(kinds, names)
	sh, st, sv := bench.Summarize(samples[0]), bench.Summarize(samples[1]), bench.Summarize(samples[2])
	ratio := bench.Ratio(st.Median, sh.Median)
	r.add("client", fmt.Sprintf("hello-world Go binary, fresh process (n=%d)", sh.N),
		fmt.Sprintf("median %s, p99 %s", bench.Ms(sh.Median), bench.Ms(sh.P99)), "the floor", nil)
	r.add("client", fmt.Sprintf("`entra-helper token` warm, fresh process (n=%d)", st.N),
		fmt.Sprintf("median %s, p99 %s", bench.Ms(st.Median), bench.Ms(st.P99)), "", nil)
	r.add("client", fmt.Sprintf("`entra-helper version`, fresh process, no daemon call (n=%d)", sv.N),
		fmt.Sprintf("median %s, p99 %s (%.2fx hello-world)", bench.Ms(sv.Median), bench.Ms(sv.P99), bench.Ratio(sv.Median, sh.Median)), "", nil)
	if r.rawToken != "" {
		ss := bench.Summarize(samples[3])
		r.add("client", fmt.Sprintf("floor of a token request: rawtoken (raw system calls, no net package or JSON), fresh process (n=%d)", ss.N),
			fmt.Sprintf("median %s, p99 %s (%.2fx hello-world; token / rawtoken %.2fx)", bench.Ms(ss.Median), bench.Ms(ss.P99),
				bench.Ratio(ss.Median, sh.Median), bench.Ratio(st.Median, ss.Median)), "", nil)
	}
	sg := bench.Summarize(samples[gitKind])
	r.add("client", fmt.Sprintf("`entra-helper credential get` (git's helper) warm, fresh process (n=%d)", sg.N),
		fmt.Sprintf("median %s, p99 %s (%.2fx token)", bench.Ms(sg.Median), bench.Ms(sg.P99), bench.Ratio(sg.Median, st.Median)), "", nil)
	r.add("client", "token / hello-world", fmt.Sprintf("median %.2fx, p99 %.2fx", ratio, bench.Ratio(st.P99, sh.P99)),
		"median <= 1.25x", ptr(ratio <= 1.25))
}

var concurrency = []int{1, 8, 64}

// load is one load measurement against one server, with the server's CPU
// per answer.
type load struct {
	res    loadgen.Result
	cpuPer time.Duration // server CPU per request (answers and refusals); 0 if unknown
	genPer time.Duration // load generator CPU per request
}

// slice is one slice of a measurement: its result and the CPU time the
// server and this process (the load generator) used during it.
type slice struct {
	res           loadgen.Result
	server, loadg time.Duration
	ok            bool // both CPU readings worked
}

// measure runs one slice while counting the CPU time of process pid (from
// /proc, 10 ms resolution) and of this process.
func measure(pid int, run func() loadgen.Result) slice {
	d0, err1 := bench.CPUTime(pid)
	s0, err2 := bench.CPUTime(os.Getpid())
	res := run()
	d1, err3 := bench.CPUTime(pid)
	s1, err4 := bench.CPUTime(os.Getpid())
	return slice{res: res, server: d1 - d0, loadg: s1 - s0, ok: err1 == nil && err2 == nil && err3 == nil && err4 == nil}
}

// combine merges the slices of one measurement.
func combine(ss []slice) load {
	var l load
	var rs []loadgen.Result
	var server, loadg time.Duration
	ok := len(ss) > 0
	for _, s := range ss {
		rs = append(rs, s.res)
		server += s.server
		loadg += s.loadg
		ok = ok && s.ok
	}
	l.res = loadgen.Merge(rs...)
	if n := time.Duration(l.res.Answers + l.res.Errors); ok && n > 0 {
		l.cpuPer, l.genPer = server/n, loadg/n
	}
	return l
}

// surface is one server under load: the daemon's socket or one of its HTTP
// endpoints, or a floor.
type surface struct {
	area  string // row label
	pid   int
	run   func(clients int, d time.Duration) loadgen.Result
	pprof string // the daemon's pprof address with -profile; "" for a floor
}

// compare measures each surface at each concurrency for r.dur in all,
// interleaved in r.rounds slices (daemon, floor, daemon, floor, ...) so
// that the rest of a shared machine's load hits them alike, and adds a row
// per measurement. It returns the measurements by surface and concurrency.
// With -profile, each daemon surface then gets one more window at
// profileClients, only for its CPU profile.
func (r *runner) compare(surfaces ...surface) []map[int]load {
	out := make([]map[int]load, len(surfaces))
	for i := range out {
		out[i] = map[int]load{}
	}
	rounds := max(1, r.rounds)
	part := r.dur / time.Duration(rounds)
	for _, c := range concurrency {
		progress("%d client(s): %d surfaces, %d interleaved slices of %s each", c, len(surfaces), rounds, part)
		slices := make([][]slice, len(surfaces))
		for range rounds {
			for i, s := range surfaces {
				slices[i] = append(slices[i], measure(s.pid, func() loadgen.Result { return s.run(c, part) }))
			}
		}
		for i, s := range surfaces {
			out[i][c] = combine(slices[i])
			r.loadRow(s.area, c, out[i][c])
			r.profiled(s, c, func() { s.run(c, r.dur) })
		}
	}
	return out
}

func (r *runner) loadRow(area string, clients int, l load) {
	what := fmt.Sprintf("%d client(s), %s in %d interleaved slices", clients, r.dur, max(1, r.rounds))
	res := l.res
	if res.Answers == 0 {
		r.fail(area, what, fmt.Errorf("no answer: %d errors, first: %v", res.Errors, res.FirstErr))
		return
	}
	result := fmt.Sprintf("%.0f answers/s, p50 %s, p99 %s", res.Rate(), bench.Ms(res.Latency.Median), bench.Ms(res.Latency.P99))
	if res.Errors > 0 {
		result += fmt.Sprintf(", and %.0f refusals/s (first: %s)", float64(res.Errors)/res.Elapsed.Seconds(), oneLine(res.FirstErr.Error()))
	}
	if l.cpuPer > 0 {
		result += fmt.Sprintf("; server CPU %s per answer, load generator %s", us(l.cpuPer), us(l.genPer))
	}
	r.add(area, what, result, "", nil)
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }

// socketLoad measures token requests over the Unix socket, the daemon's
// against the floor's bare ipcserver.Server answering from memory.
func (r *runner) socketLoad(e *env) {
	req := &ipc.Request{Op: ipc.OpToken, Profile: "sp"}
	sock := func(path string) func(int, time.Duration) loadgen.Result {
		return func(c int, d time.Duration) loadgen.Result {
			return loadgen.Socket(context.Background(), path, req, c, d)
		}
	}
	runs := r.compare(
		surface{"socket", e.pid, sock(e.socket), e.pprofURL()},
		surface{"socket floor: bare ipcserver.Server, token in memory", r.floor.pid, sock(r.floor.Socket), ""},
	)
	d, f := runs[0][8], runs[1][8]
	if d.cpuPer > 0 && f.cpuPer > 0 {
		ratio := float64(d.cpuPer) / float64(f.cpuPer)
		r.add("socket", "daemon CPU per answer / floor's, 8 clients",
			fmt.Sprintf("%.2fx (%s / %s)", ratio, us(d.cpuPer), us(f.cpuPer)), "<= 1.5x", ptr(ratio <= 1.5))
	}
}

// httpRatios adds the targets of a loopback HTTP endpoint against the
// floor's bare net/http handler: throughput at 64 keep-alive clients and
// p99 at 8.
func (r *runner) httpRatios(area string, d, f map[int]load) {
	if f[64].res.Rate() > 0 {
		ratio := d[64].res.Rate() / f[64].res.Rate()
		r.add(area, "answers/s at 64 keep-alive clients / bare net/http's",
			fmt.Sprintf("%.2fx (%.0f / %.0f)", ratio, d[64].res.Rate(), f[64].res.Rate()), ">= 0.9x", ptr(ratio >= 0.9))
	}
	if p := f[8].res.Latency.P99; p > 0 {
		ratio := bench.Ratio(d[8].res.Latency.P99, p)
		r.add(area, "p99 at 8 clients / bare net/http's",
			fmt.Sprintf("%.2fx (%s / %s)", ratio, bench.Ms(d[8].res.Latency.P99), bench.Ms(p)), "<= 1.5x", ptr(ratio <= 1.5))
	}
	if d[8].cpuPer > 0 && f[8].cpuPer > 0 {
		r.add(area, "server CPU per answer / bare net/http's, 8 clients",
			fmt.Sprintf("%.2fx (%s / %s)", float64(d[8].cpuPer)/float64(f[8].cpuPer), us(d[8].cpuPer), us(f[8].cpuPer)), "", nil)
	}
}

// httpLoad measures the loopback HTTP endpoints (the Databricks metadata
// endpoint, and the managed-identity endpoint where the daemon has one)
// against the floor's bare net/http handler, and the peer-uid lookups.
func (r *runner) httpLoad(e *env) {
	resp, err := e.call(&ipc.Request{Op: ipc.OpProfile, Profile: "sp"})
	if err != nil || resp.Profile == nil || resp.Profile.MetadataURL == "" {
		r.fail("metadata", "metadata URL", fmt.Errorf("profile op: %v", err))
		return
	}
	get := func(url string, h http.Header) func(int, time.Duration) loadgen.Result {
		return func(c int, d time.Duration) loadgen.Result { return loadgen.HTTP(context.Background(), url, h, c, d) }
	}
	u := resp.Profile.MetadataURL
	// The floor gets the metadata requests' headers: the same request to
	// parse, a constant answer.
	mh := http.Header{"X-Databricks-Metadata-Version": {"1"}, "X-Databricks-Host": {databricks}}
	surfaces := []surface{
		{"metadata", e.pid, get(u, mh), e.pprofURL()},
		{"HTTP floor: bare net/http, constant body", r.floor.pid, get(r.floor.HTTP, mh), ""},
	}
	if p := resp.Profile; p.IdentityEndpoint != "" {
		// The App Service protocol, as the Azure SDKs speak it, for the
		// resource whose token the metadata runs use.
		mi := p.IdentityEndpoint + "?api-version=2019-08-01&resource=" + url.QueryEscape(strings.TrimSuffix(scopeDatabricks, "/.default"))
		surfaces = append(surfaces, surface{"managed identity", e.pid, get(mi, http.Header{"X-Identity-Header": {p.IdentityHeader}}), e.pprofURL()})
	} else {
		r.add("managed identity", "load", "not measured: the daemon reports no managed-identity endpoint", "", nil)
	}
	runs := r.compare(surfaces...)
	r.httpRatios("metadata", runs[0], runs[1])
	if len(runs) > 2 {
		r.httpRatios("managed identity", runs[2], runs[1])
	}
	r.procNetTCP(u)
}

// procNetTCP times reading /proc/net/tcp and tcp6 whole (the daemon stops
// at the match, so this is its upper bound: the kernel walks its hash table
// of established connections, so the cost follows the table's size, not the
// number of sockets) with 64 loopback connections to the endpoint open, and
// the exact NETLINK_SOCK_DIAG lookup of one of them for comparison.
func (r *runner) procNetTCP(metadataURL string) {
	pu, err := url.Parse(metadataURL)
	if err != nil {
		r.fail("metadata", "/proc/net/tcp lookup", err)
		return
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 64 {
		c, err := net.Dial("tcp", pu.Host)
		if err != nil {
			r.fail("metadata", "/proc/net/tcp lookup", err)
			return
		}
		conns = append(conns, c)
	}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		var lat []time.Duration
		lines := 0
		for range 300 {
			t0 := time.Now()
			b, err := os.ReadFile(f)
			lat = append(lat, time.Since(t0))
			if err != nil {
				r.fail("metadata", "read "+f, err)
				return
			}
			lines = bytes.Count(b, []byte{'\n'}) - 1
		}
		s := bench.Summarize(lat)
		r.add("metadata", fmt.Sprintf("peer uid lookup, fallback path: read %s whole (%d sockets listed; 64 connections to the endpoint open)", f, lines),
			fmt.Sprintf("median %s, p99 %s", bench.Ms(s.Median), bench.Ms(s.P99)), "", nil)
	}
	local, remote := conns[0].LocalAddr().(*net.TCPAddr), conns[0].RemoteAddr().(*net.TCPAddr)
	var lat []time.Duration
	for range 2000 {
		t0 := time.Now()
		uid, err := tcpowner.Owner(local, remote)
		lat = append(lat, time.Since(t0))
		if err != nil || int(uid) != os.Getuid() {
			r.fail("metadata", "sock_diag lookup", fmt.Errorf("uid %d: %v", uid, err))
			return
		}
	}
	s := bench.Summarize(lat)
	r.add("metadata", "peer uid lookup as the daemon does it, once per connection: NETLINK_SOCK_DIAG (exact 4-tuple)",
		fmt.Sprintf("median %.1f µs, p99 %.1f µs", float64(s.Median)/1e3, float64(s.P99)/1e3), "", nil)
}

// coldRequests sends r.cold concurrent requests for a scope no one asked
// for yet, while the fake Entra takes 100 ms per answer, and counts the
// token calls the fake saw.
func (r *runner) coldRequests(e *env) {
	progress("cold requests: %d concurrent for an uncached scope", r.cold)
	what := fmt.Sprintf("%d concurrent cold requests, one new scope, Entra answering in 100 ms", r.cold)
	if err := r.fake.admin("latency?d=100ms"); err != nil {
		r.fail("Entra", what, err)
		return
	}
	defer func() { _ = r.fake.admin("latency?d=0s") }()
	before, err := r.fake.stats()
	if err != nil {
		r.fail("Entra", what, err)
		return
	}
	req := &ipc.Request{Op: ipc.OpToken, Profile: "sp", Scopes: []string{"api://bench-cold/.default"}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	tokens := map[string]int{}
	var lat []time.Duration
	var firstErr error
	errs := 0
	start := make(chan struct{})
	for range r.cold {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			resp, err := e.call(req)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			tokens[resp.Token.AccessToken]++
			lat = append(lat, d)
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	after, err := r.fake.stats()
	if err != nil {
		r.fail("Entra", what, err)
		return
	}
	calls := after.TokenRequests - before.TokenRequests
	s := bench.Summarize(lat)
	result := fmt.Sprintf("%d token call(s) at the fake; %d answers, %d distinct token(s), all in %s (p50 %s)",
		calls, len(lat), len(tokens), bench.Ms(wall), bench.Ms(s.Median))
	if errs > 0 {
		result += fmt.Sprintf("; %d errors (first: %s)", errs, oneLine(firstErr.Error()))
	}
	r.add("Entra", what, result, "1 call", ptr(calls == 1 && errs == 0))
}

// restart kills the daemon (SIGKILL, as a crash would), starts it again
// and times the first token of each signed-in profile: the service
// principal's secret comes from the store, the user's token from the
// stored refresh token. Then the same through the client's autostart.
func (r *runner) restart(e *env) {
	progress("restart: kill -9, start, time to first token")
	e.stop(syscall.SIGKILL)
	before, err := r.fake.stats()
	if err != nil {
		r.fail("restart", "stats", err)
		return
	}
	t0 := time.Now()
	if err := e.launch(); err != nil {
		r.fail("restart", "daemon start", err)
		return
	}
	type first struct {
		d   time.Duration
		err error
	}
	res := map[string]first{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range []string{"sp", "user"} {
		wg.Go(func() {
			err := e.until(&ipc.Request{Op: ipc.OpToken, Profile: p})
			mu.Lock()
			res[p] = first{time.Since(t0), err}
			mu.Unlock()
		})
	}
	wg.Wait()
	after, _ := r.fake.stats()
	grants := map[string]int{}
	for k, v := range after.ByGrantType {
		if d := v - before.ByGrantType[k]; d > 0 {
			grants[k] = d
		}
	}
	for _, p := range []struct{ name, how string }{
		{"sp", "client-secret: secret from the store, client_credentials"},
		{"user", "username-password: stored refresh token, refresh_token grant"},
	} {
		what := fmt.Sprintf("time to first token after kill -9 and start (%s)", p.how)
		if f := res[p.name]; f.err != nil {
			r.fail("restart", what, f.err)
		} else {
			r.add("restart", what, bench.Ms(f.d), "", nil)
		}
	}
	r.add("restart", "Entra calls of that restart, by grant type", fmt.Sprint(grants), "", nil)

	// The first call of a day: no daemon, the client starts one.
	e.stop(syscall.SIGKILL)
	t1 := time.Now()
	_, err = e.client(true, "", "token", "-p", "sp")
	d := time.Since(t1)
	what := "`entra-helper token` with no daemon running (autostart, then the token)"
	if err != nil {
		r.fail("restart", what, err)
		return
	}
	r.add("restart", what, bench.Ms(d), "<= 5 s (autostart wait)", ptr(d <= 5*time.Second))
	if resp, err := e.call(&ipc.Request{Op: ipc.OpStatus}); err == nil && resp.Status != nil {
		e.pid = resp.Status.PID // stop() ends it by pid
	}
}

// memoryConfig writes a config of n client-secret profiles with the default
// scope (a token request names one resource: Entra refuses several).
func memoryConfig(n int) string {
	var b strings.Builder
	b.WriteString("[daemon]\nstore = \"file\"\nstore_key_file = \"{key}\"\nstate_dir = \"{state}\"\nmetadata_listen = \"127.0.0.1:0\"\nidentity_listen = \"127.0.0.1:0\"\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "\n[profiles.p%03d]\nflow = \"client-secret\"\ntenant = \"{tenant}\"\nclient_id = %q\nauthority_host = \"{authority}\"\n"+
			"databricks_host = %q\n", i, spClientID, databricks)
	}
	return b.String()
}

// memoryEnv measures the RSS of a daemon with r.profiles profiles, idle
// and with every profile signed in and its 3 scopes cached.
func (r *runner) memoryEnv(secret string) {
	area := "memory"
	what := fmt.Sprintf("daemon RSS, %d client-secret profiles x 3 scopes cached", r.profiles)
	e, err := newEnv(filepath.Join(r.work, "memory"), r.bin, memoryConfig(r.profiles), r.fake)
	if err != nil {
		r.fail(area, what, err)
		return
	}
	defer e.stop(syscall.SIGTERM)
	progress("memory: daemon with %d profiles", r.profiles)
	if _, err := e.start(); err != nil {
		r.fail(area, what, err)
		return
	}
	time.Sleep(300 * time.Millisecond)
	if rss, err := bench.RSS(e.pid); err == nil {
		r.add(area, fmt.Sprintf("daemon RSS idle after start, %d profiles configured", r.profiles), bench.MiB(rss), "", nil)
	}
	before, _ := r.fake.stats()
	t0 := time.Now()
	// 8 at a time, over the socket as `entra-helper login --secret-stdin` does.
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 8 {
		wg.Go(func() {
			for i := range work {
				p := fmt.Sprintf("p%03d", i)
				_, err := e.call(&ipc.Request{Op: ipc.OpLogin, Profile: p, Login: &ipc.LoginRequest{ClientSecret: secret}})
				for _, s := range []string{scopeDatabricks, scopeManagement, scopeGraph} {
					if err != nil {
						break
					}
					_, err = e.call(&ipc.Request{Op: ipc.OpToken, Profile: p, Scopes: []string{s}})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", p, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := 1; i <= r.profiles; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(t0)
	if firstErr != nil {
		r.fail(area, what, firstErr)
		return
	}
	after, _ := r.fake.stats()
	time.Sleep(300 * time.Millisecond)
	rss, err := bench.RSS(e.pid)
	if err != nil {
		r.fail(area, what, err)
		return
	}
	r.add(area, what, fmt.Sprintf("%s (%d sign-ins + %d token requests in %s, %d Entra token calls)",
		bench.MiB(rss), r.profiles, 3*r.profiles, took.Round(time.Millisecond), after.TokenRequests-before.TokenRequests),
		"<= 25 MiB", ptr(rss <= 25<<20))
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op\s+([\d.]+) B/op\s+(\d+) allocs/op`)

// goBenchmarks runs the Go benchmarks of the hot path with -benchmem.
func (r *runner) goBenchmarks() {
	progress("go test -bench (hot path, -benchmem)")
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^(BenchmarkTokenCacheHit|BenchmarkWriteReadMessage|BenchmarkCall)$",
		"-benchmem", "-count", "1", "./daemon/broker/", "./ipc/", "./daemon/ipcserver/")
	out, err := cmd.CombinedOutput()
	pkg := ""
	found := 0
	for _, l := range strings.Split(string(out), "\n") {
		if p, ok := strings.CutPrefix(l, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/entra-helper/entra-helper/")
		}
		m := benchLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		found++
		r.add("go bench", pkg+"."+m[1], fmt.Sprintf("%s ns/op, %s B/op, %s allocs/op", m[3], m[4], m[5]), "", nil)
	}
	if err != nil {
		var why []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "--- FAIL") || strings.Contains(l, "_test.go:") {
				why = append(why, strings.TrimSpace(l))
			}
		}
		r.fail("go bench", "go test -bench", fmt.Errorf("%v: %s", err, strings.Join(why, " / ")))
	} else if found == 0 {
		r.fail("go bench", "go test -bench", fmt.Errorf("no benchmark lines: %s", lastLines(string(out), 5)))
	}
}

// soak runs the broker's simulated day and reports its summary line.
func (r *runner) soak() {
	progress("broker soak simulation")
	what := "simulated day (`go test ./daemon/broker/ -run TestSoak -soak -v`)"
	out, err := exec.Command("go", "test", "./daemon/broker/", "-run", "^TestSoak$", "-soak", "-count", "1", "-v").CombinedOutput()
	if err != nil {
		r.fail("Entra", what, fmt.Errorf("%v: %s", err, lastLines(string(out), 5)))
		return
	}
	for _, l := range strings.Split(string(out), "\n") {
		if _, line, ok := strings.Cut(l, "soak_test.go:"); ok && strings.Contains(line, "Entra calls") {
			_, line, _ = strings.Cut(line, ": ")
			r.add("Entra", what, line, "0 requests waited", ptr(strings.HasSuffix(line, " 0 requests waited")))
			return
		}
	}
	r.fail("Entra", what, fmt.Errorf("no summary line: %s", lastLines(string(out), 5)))
}

// sizes reports the binaries' sizes.
func (r *runner) sizes() {
	for _, b := range []struct{ what, path string }{
		{"client binary bin/entra-helper", filepath.Join(r.bin, "entra-helper")},
		{"daemon binary bin/entra-helperd", filepath.Join(r.bin, "entra-helperd")},
		{"hello-world, same flags", r.helloBin},
	} {
		fi, err := os.Stat(b.path)
		if err != nil {
			r.fail("size", b.what, err)
			continue
		}
		r.add("size", b.what, bench.MiB(fi.Size()), "", nil)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " / ")
}

// table renders the machine and the rows as Markdown.
func (r *runner) table(took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## entra-helper bench\n\n")
	fmt.Fprintf(&b, "- machine: %d CPU(s), %s, Linux %s, %s\n", runtime.NumCPU(), cpuModel(), kernel(), goVersion())
	fmt.Fprintf(&b, "- daemon: store = \"file\" (AES-256-GCM files, 32-byte key file; no Secret Service), log_level info to a file (one audit line per token)\n")
	fmt.Fprintf(&b, "- Entra: the fake (internal/entratest/cmd/fake-entra) on loopback TLS; load measurements %s each, cut into %d slices interleaved with the floors\n", r.dur, max(1, r.rounds))
	fmt.Fprintf(&b, "- whole run: %s\n\n", took.Round(time.Second))
	b.WriteString("| area | measure | result | target | |\n|---|---|---|---|---|\n")
	for _, rw := range r.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", rw.area, rw.what, rw.result, rw.target, rw.verdict)
	}
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
