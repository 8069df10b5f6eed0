// Package daemon wires entra-helperd together: it loads the config, opens the
// store, builds a token source per profile, and serves the broker's tokens on
// the local socket and the Databricks metadata endpoint until stopped.
package daemon

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/broker"
	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/endpoint"
	"github.com/entra-helper/entra-helper/daemon/ipcserver"
	"github.com/entra-helper/entra-helper/daemon/jwks"
	"github.com/entra-helper/entra-helper/daemon/source"
	"github.com/entra-helper/entra-helper/daemon/tenant"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

// Options configure Run. Zero values take the defaults of the spec.
type Options struct {
	ConfigPath string // "": ENTRA_HELPER_CONFIG, else the user's config dir
	// SocketPath is where to listen; "": ENTRA_HELPER_SOCKET, else the
	// system socket (ipc.SystemSocketPath) in system mode, else the
	// per-user default.
	SocketPath string
	// System is system mode (entra-helperd run --system): the socket is
	// open to every local user and the access policy admits other users to
	// the profiles whose allowed_users or allowed_groups name them.
	System  bool
	Version string      // reported by status
	Stderr  io.Writer   // log destination; nil: os.Stderr
	Clock   clock.Clock // nil: the real clock
	// Policy overrides the broker's renewal policy (tests); MinValid comes
	// from the config.
	Policy broker.Policy
	// Ready, when set, is called once the daemon serves its socket.
	Ready func()
}

// Store keys of the loopback endpoints' secrets.
const (
	metadataSecretKey = "daemon/metadata-secret" // the metadata endpoint's path secret
	identitySecretKey = "daemon/identity-secret" // the managed-identity endpoint's header and path secret
)

// Daemon is a running entra-helperd.
type Daemon struct {
	opts     Options
	log      *zap.Logger
	level    zap.AtomicLevel
	store    store.Store
	remember *store.Remembering // d.store: remembers an unavailable keychain
	broker   *broker.Broker
	http     *http.Client
	verifier *jwks.Verifier // caches issuers' keys for `inspect --verify`
	access   *access.Policy // who may use what, on every surface
	audit    *access.Audit
	tenants  *tenant.Resolver // tenant IDs of domains, for az's --tenant
	started  time.Time

	requests atomic.Uint64

	identityList atomic.Pointer[identityList] // identityProfiles' list for the current config

	mu       sync.RWMutex
	cfg      *config.Config
	profiles map[string]tokensource.Profile
	logins   map[string]bool // profiles with a sign-in under way
	// accounts is the last known account of each profile: read from the
	// store at start and when a profile's settings change, set by login
	// and logout. status reads it, never the store, so it answers at once
	// while a sign-in holds the profile.
	accounts map[string]accountState

	metaSecret string
	metaAddr   string // the metadata endpoint's bound address; "" when off
	idSecret   string
	idAddr     string // the managed-identity endpoint's bound address; "" when off
	idDown     string // why the managed-identity endpoint could not listen; "" if it could or is off
	metaDown   string // why the metadata endpoint could not listen; "" if it could or is off

	buildProfile func(*config.Profile, source.Options) (tokensource.Profile, error) // nil: newProfile; a test seam
}

// Run starts the daemon and serves until ctx is cancelled or SIGINT/SIGTERM
// arrives; SIGHUP reloads the config. It returns an error when it cannot
// start (broken config, store, socket in use) or stops on a failure.
func Run(ctx context.Context, opts Options) error {
	if err := opts.setDefaults(); err != nil {
		return err
	}
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	d := &Daemon{opts: opts, cfg: cfg, started: opts.Clock.Now(), logins: map[string]bool{}, accounts: map[string]accountState{}}
	d.log, d.level, err = newLogger(cfg.Daemon, opts.Stderr)
	if err != nil {
		return err
	}
	defer func() { _ = d.log.Sync() }()
	disableCoreDumps(d.log)
	d.audit = access.NewAudit(d.log.Named("audit"), access.AuditOptions{})
	defer d.audit.Close() // after the servers stopped: writes the last records
	if d.access, err = access.New(access.Options{System: opts.System, Audit: d.audit}, accessRules(cfg)); err != nil {
		return fmt.Errorf("%s: %w", cfg.Path, err)
	}

	if d.http, err = newHTTPClient(); err != nil {
		return err
	}
	d.verifier = jwks.NewVerifier(d.http)
	d.verifier.Clock = opts.Clock
	d.tenants = &tenant.Resolver{HTTP: d.http}
	if err := d.openStore(ctx); err != nil {
		return err
	}

	policy := opts.Policy
	policy.MinValid = cfg.Daemon.MinValid
	if policy.Warn == nil {
		policy.Warn = d.warnFreshness
	}
	d.broker = broker.New(opts.Clock, policy)
	defer d.broker.Close()
	changed, err := d.applyProfiles(cfg, nil) // d.access has cfg's rules
	if err != nil {
		return err
	}
	d.readAccounts(ctx, changed)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 2)
	// The loopback endpoints first: their addresses and secrets are set
	// before any client can ask for them over the socket.
	eps, err := d.startEndpoints(cfg, serveErr)
	if err != nil {
		return err
	}
	d.scrubIdentityEnv()
	srv, ln, err := d.serveSocket(serveErr)
	if err != nil {
		eps.close()
		return err
	}
	lost, stopWatch := d.watchSocket(ln)
	defer stopWatch()
	if opts.Ready != nil {
		opts.Ready()
	}
	d.log.Info("entra-helperd started",
		zap.String("version", opts.Version), zap.String("socket", opts.SocketPath), zap.Bool("system", opts.System),
		zap.String("config", opts.ConfigPath), zap.String("metadata", d.metaAddr),
		zap.String("identity", d.idAddr), zap.Int("pid", os.Getpid()))
	d.warmUp(changed)

	runErr := d.serveUntilStopped(ctx, serveErr, lost)
	return d.shutdown(srv, eps, runErr)
}

// setDefaults fills in what the caller left zero: stderr, the real clock,
// the default config path and the socket of this mode.
func (o *Options) setDefaults() error {
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.ConfigPath == "" {
		p, err := config.DefaultPath()
		if err != nil {
			return err
		}
		o.ConfigPath = p
	}
	if o.SocketPath == "" {
		p, err := socketPath(o.System)
		if err != nil {
			return err
		}
		o.SocketPath = p
	}
	return nil
}

// openStore opens the configured secret store, remembers its outages and
// checks at start that it answers.
func (d *Daemon) openStore(ctx context.Context) error {
	cfg := d.cfg
	stateDir, err := resolveStateDir(cfg.Daemon.StateDir)
	if err != nil {
		return err
	}
	st, reason, err := store.Open(cfg.Daemon.Store, stateDir, cfg.Daemon.StoreKeyFile, d.opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("cannot open the %s store: %w", cfg.Daemon.Store, err)
	}
	d.remember = store.Remember(st, d.opts.Clock)
	d.store = d.remember
	if err := d.checkStoreAtStart(ctx); err != nil {
		return err
	}
	d.log.Info("store opened", zap.String("store", st.Name()), zap.String("why", reason))
	return nil
}

// endpoints are the loopback HTTP servers that run (nil: off).
type endpoints struct{ meta, ident *http.Server }

// close stops the endpoints at once (a failed start).
func (e endpoints) close() {
	for _, hs := range []*http.Server{e.meta, e.ident} {
		if hs != nil {
			_ = hs.Close()
		}
	}
}

// loopbackEndpoint is one loopback endpoint as startEndpoints starts it.
type loopbackEndpoint struct {
	key   string // its [daemon] setting
	what  string // its name in messages
	addr  string // "": off
	set   bool   // the config file sets addr (not the default)
	start func(addr string, serveErr chan<- error) (*http.Server, error)
	srv   **http.Server
	down  *string // why it could not listen, for doctor and status
}

// startEndpoints serves the metadata and managed-identity endpoints the
// config turns on. An endpoint whose default port is taken (another
// user's daemon on a shared machine) stays off with a warning, which
// doctor repeats; one whose configured address fails stops the start.
func (d *Daemon) startEndpoints(cfg *config.Config, serveErr chan<- error) (endpoints, error) {
	var eps endpoints
	for _, e := range []loopbackEndpoint{
		{"metadata_listen", "the Databricks metadata endpoint", cfg.Daemon.MetadataListen, cfg.Daemon.MetadataListenSet, d.startMetadata, &eps.meta, &d.metaDown},
		{"identity_listen", "the managed-identity endpoint", cfg.Daemon.IdentityListen, cfg.Daemon.IdentityListenSet, d.startIdentity, &eps.ident, &d.idDown},
	} {
		if e.addr == "" {
			continue
		}
		srv, err := e.start(e.addr, serveErr)
		switch {
		case err == nil:
			*e.srv = srv
		case defaultPortTaken(e.set, err):
			*e.down = err.Error()
			d.log.Warn(e.what+" is off: its default address is in use; set "+e.key+" in [daemon] to a free port and restart entra-helperd", zap.Error(err))
		default:
			eps.close()
			return eps, err
		}
	}
	return eps, nil
}

// defaultPortTaken tells whether an endpoint that failed to listen with
// err may stay off: its address is the default (set is false: the config
// file does not name it) and another process holds it.
func defaultPortTaken(set bool, err error) bool {
	return !set && errors.Is(err, addrInUse)
}

// serveSocket listens on the daemon's socket (shared by every user in
// system mode, where the access policy decides) and serves it.
func (d *Daemon) serveSocket(serveErr chan<- error) (*ipcserver.Server, net.Listener, error) {
	listen := ipc.Listen
	if d.opts.System {
		listen = ipc.ListenShared // every user may connect; the access policy decides
	}
	ln, err := listen(d.opts.SocketPath)
	if err != nil {
		return nil, nil, err
	}
	srv := &ipcserver.Server{
		Handler: d.handle,
		Admit:   func(p ipc.Peer) error { return d.access.Admit(p, access.Socket) },
		OnError: func(err error) { d.log.Warn("connection refused or failed", zap.Error(err)) },
	}
	go func() { serveErr <- srv.Serve(ln) }()
	return srv, ln, nil
}

// socketCheckEvery is how often the daemon checks that its socket is
// still its own.
const socketCheckEvery = 30 * time.Second

// watchSocket checks every socketCheckEvery (on the daemon's clock) that
// ln's path still names its socket: a daemon whose socket or socket
// directory was deleted, or replaced by another daemon's, cannot be
// reached and would hold its ports for ever. The first time it does not,
// the returned channel says why and the checks end; stop ends them too.
// Named pipes (Windows) cannot be deleted and are not watched.
func (d *Daemon) watchSocket(ln net.Listener) (lost <-chan error, stop func()) {
	ch := make(chan error, 1)
	l, ok := ln.(interface{ Lost() error })
	if !ok {
		return ch, func() {}
	}
	var mu sync.Mutex
	var timer clock.Timer
	stopped := false
	var check func()
	check = func() {
		if err := l.Lost(); err != nil {
			ch <- err
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer = d.opts.Clock.AfterFunc(socketCheckEvery, check)
		}
	}
	mu.Lock()
	timer = d.opts.Clock.AfterFunc(socketCheckEvery, check)
	mu.Unlock()
	return ch, func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}

// serveUntilStopped reloads the config on SIGHUP until ctx ends (a signal
// or the service manager) or a server fails, whose error it returns.
func (d *Daemon) serveUntilStopped(ctx context.Context, serveErr, lost <-chan error) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			d.reload()
		case err := <-serveErr:
			return err
		case err := <-lost:
			d.log.Warn("entra-helperd stops: no client can reach it, its socket is not its own any more", zap.Error(err))
			return nil
		}
	}
}

// shutdown stops the calls to Entra, then the endpoints and the socket,
// giving requests in flight a few seconds.
func (d *Daemon) shutdown(srv *ipcserver.Server, eps endpoints, runErr error) error {
	d.log.Info("entra-helperd stopping")
	// First the calls to Entra: cancelled and waited for, and none starts
	// from now on; requests waiting on them are answered at once.
	d.broker.Close()
	defer d.http.CloseIdleConnections()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, hs := range []*http.Server{eps.meta, eps.ident} {
		if hs != nil {
			_ = hs.Shutdown(shutdownCtx)
		}
	}
	if err := srv.Shutdown(shutdownCtx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// socketPath is where the daemon listens when Options.SocketPath is
// empty: ENTRA_HELPER_SOCKET if set (tests, unusual layouts), else the
// system socket in system mode, else the per-user default.
func socketPath(system bool) (string, error) {
	if p := os.Getenv(ipc.SocketEnv); p != "" || !system {
		return ipc.DefaultSocketPath()
	}
	return ipc.SystemSocketPath(), nil
}

// accessRules are the profiles' allowed_users and allowed_groups.
func accessRules(cfg *config.Config) map[string]access.Rule {
	rules := make(map[string]access.Rule, len(cfg.Profiles))
	for name, p := range cfg.Profiles {
		rules[name] = access.Rule{Users: p.AllowedUsers, Groups: p.AllowedGroups}
	}
	return rules
}

// applyProfiles builds a source for every profile of cfg whose settings are
// new or changed, then puts cfg, its profiles and rules (when not nil) in
// force at once and drops profiles cfg no longer has. It returns the names
// of the new and changed profiles. On an error nothing changes.
func (d *Daemon) applyProfiles(cfg *config.Config, rules *access.RuleSet) ([]string, error) {
	srcOpts := source.Options{HTTPClient: d.http, OpenBrowser: d.openBrowser, Log: d.log.Named("source"), Clock: d.opts.Clock}
	build := d.newProfile
	if d.buildProfile != nil {
		build = d.buildProfile
	}
	next := make(map[string]tokensource.Profile, len(cfg.Profiles))
	d.mu.RLock()
	old, oldCfg := d.profiles, d.cfg
	d.mu.RUnlock()
	for name, p := range cfg.Profiles {
		if prev, ok := old[name]; ok && oldCfg != nil && reflect.DeepEqual(oldCfg.Profiles[name], p) {
			next[name] = prev
			continue
		}
		prof, err := build(p, srcOpts)
		if err != nil {
			return nil, fmt.Errorf("%s: profile %s: %w", cfg.Path, name, err)
		}
		next[name] = prof
	}
	var changed []string
	d.mu.Lock()
	defer d.mu.Unlock()
	if rules != nil {
		d.access.Install(rules)
	}
	for name := range old {
		if _, ok := next[name]; !ok {
			d.broker.SetSource(name, nil)
		}
	}
	for name, prof := range next {
		if old[name] != prof {
			d.broker.SetSource(name, prof)
			changed = append(changed, name)
		}
	}
	d.cfg, d.profiles = cfg, next
	for name := range d.accounts {
		if _, ok := next[name]; !ok {
			delete(d.accounts, name)
		}
	}
	return changed, nil
}

// accountState is what the daemon last knew of a profile's sign-in.
type accountState struct {
	account  tokensource.Account
	signedIn bool
}

// setAccount records a profile's account (after a sign-in or sign-out).
func (d *Daemon) setAccount(name string, a tokensource.Account, signedIn bool) {
	d.mu.Lock()
	d.accounts[name] = accountState{account: a, signedIn: signedIn}
	d.mu.Unlock()
}

// readAccounts reads the account of each named profile from its source
// (the store), for the snapshot status shows. The profiles are new, so no
// sign-in holds them.
func (d *Daemon) readAccounts(ctx context.Context, names []string) {
	d.mu.RLock()
	profiles := d.profiles
	d.mu.RUnlock()
	for _, name := range names {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		a, ok := profiles[name].Account(actx)
		cancel()
		d.setAccount(name, a, ok)
	}
}

// startCheckTimeout bounds the store check at start, below the client's
// autostart wait, so that a client sees the daemon's reason.
const startCheckTimeout = 3 * time.Second

// checkStoreAtStart reads a key that is never written: a keychain that
// cannot be used stops the daemon at once with the classified sentence
// (an *store.UnavailableError), rather than on every later request.
func (d *Daemon) checkStoreAtStart(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	_, err := d.store.Get(ctx, doctorProbeKey)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if _, ok := store.AsUnavailable(err); ok {
		return err
	}
	return fmt.Errorf("cannot use the %s store: %w", d.store.Name(), err)
}

// reload re-reads the config; a broken one is logged and the old one kept.
// It also forgets a remembered keychain failure, so the next use checks
// the keychain again.
func (d *Daemon) reload() {
	d.remember.Recheck()
	cfg, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		d.log.Error("config reload failed; keeping the running config", zap.Error(err))
		return
	}
	d.mu.RLock()
	old := d.cfg.Daemon
	d.mu.RUnlock()
	rules, err := d.access.Resolve(accessRules(cfg))
	if err != nil {
		d.log.Error("config reload failed; keeping the running config", zap.Error(fmt.Errorf("%s: %w", cfg.Path, err)))
		return
	}
	changed, err := d.applyProfiles(cfg, rules)
	if err != nil {
		d.log.Error("config reload failed; keeping the running config", zap.Error(err))
		return
	}
	d.readAccounts(context.Background(), changed)
	if lvl, err := zap.ParseAtomicLevel(cfg.Daemon.LogLevel); err == nil {
		d.level.SetLevel(lvl.Level())
	}
	d.broker.SetMinValid(cfg.Daemon.MinValid)
	if cfg.Daemon.Store != old.Store || cfg.Daemon.StateDir != old.StateDir ||
		cfg.Daemon.MetadataListen != old.MetadataListen || cfg.Daemon.IdentityListen != old.IdentityListen ||
		cfg.Daemon.LogFormat != old.LogFormat {
		d.log.Warn("store, state_dir, metadata_listen, identity_listen and log_format changes take effect after a restart")
	}
	d.log.Info("config reloaded", zap.Int("profiles", len(cfg.Profiles)))
	d.warmUp(changed)
}

// warmUp pins the configured scopes of the named profiles that are signed
// in, so they are fetched now (in the broker's background) and kept fresh
// without waiting for a first request.
func (d *Daemon) warmUp(names []string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, name := range names {
		p := d.cfg.Profiles[name]
		if p == nil || !d.accounts[name].signedIn {
			continue
		}
		if err := d.broker.Pin(name, p.Scopes); err != nil {
			d.log.Warn("cannot keep the profile's scopes fresh", zap.String("profile", name), zap.Error(err))
		}
	}
}

// startMetadata serves the Databricks metadata endpoint on addr.
func (d *Daemon) startMetadata(addr string, serveErr chan<- error) (*http.Server, error) {
	sec, err := d.endpointSecret(metadataSecretKey, "the metadata endpoint's secret")
	if err != nil {
		return nil, err
	}
	d.metaSecret = sec
	h := &endpoint.Metadata{
		Tokens:   d.broker,
		Secret:   func() string { return d.metaSecret },
		Profiles: d.databricksProfile,
		MinValid: d.broker.MinValid,
		Log:      d.log.Named("metadata"),
		Access:   d.access,
		Clock:    d.opts.Clock,
	}
	srv, bound, err := d.serveLoopback(addr, h, "metadata", serveErr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve the Databricks metadata endpoint on %s (metadata_listen): %w; pick another port or set metadata_listen = \"\"", addr, err)
	}
	d.metaAddr = bound
	return srv, nil
}

// startIdentity serves the managed-identity endpoint on addr.
func (d *Daemon) startIdentity(addr string, serveErr chan<- error) (*http.Server, error) {
	sec, err := d.endpointSecret(identitySecretKey, "the managed-identity endpoint's secret")
	if err != nil {
		return nil, err
	}
	d.idSecret = sec
	h := &endpoint.Identity{
		Tokens:   d.broker,
		Secret:   func() string { return d.idSecret },
		Profiles: d.identityProfiles,
		ObjectID: d.objectID,
		MinValid: d.broker.MinValid,
		Log:      d.log.Named("identity"),
		Access:   d.access,
		Clock:    d.opts.Clock,
	}
	srv, bound, err := d.serveLoopback(addr, h, "identity", serveErr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve the managed-identity endpoint on %s (identity_listen): %w; pick another port or set identity_listen = \"\"", addr, err)
	}
	d.idAddr = bound
	return srv, nil
}

// serveLoopback serves h on the loopback address addr with the limits of
// every loopback endpoint, learning each connection's owner for the peer
// check; it returns the server and the bound address.
func (d *Daemon) serveLoopback(addr string, h http.Handler, name string, serveErr chan<- error) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      40 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       access.ConnContext,
		ErrorLog:          zap.NewStdLog(d.log.Named(name)),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	return srv, ln.Addr().String(), nil
}

// endpointSecret returns the secret kept in the store under key, creating
// and storing it on first use, so that URLs and environments written once
// survive restarts.
func (d *Daemon) endpointSecret(key, what string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := d.store.Get(ctx, key)
	if err == nil && len(b) >= 16 {
		return string(b), nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("cannot read %s from the %s store: %w", what, d.store.Name(), err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	sec := base64.RawURLEncoding.EncodeToString(raw)
	if err := d.store.Set(ctx, key, []byte(sec)); err != nil {
		return "", fmt.Errorf("cannot store %s in the %s store: %w", what, d.store.Name(), err)
	}
	return sec, nil
}

func (d *Daemon) databricksProfile(name string) (host string, scopes []string, ok bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, ok := d.cfg.Profiles[name]
	if !ok {
		return "", nil, false
	}
	return p.DatabricksHost, p.Scopes, true
}

// metadataURL is the endpoint URL of profile, "" when the endpoint is off.
func (d *Daemon) metadataURL(profile string) string {
	if d.metaAddr == "" {
		return ""
	}
	return "http://" + d.metaAddr + "/" + d.metaSecret + "/" + profile
}

// newHTTPClient builds the client used for every call to Entra: proxies from
// HTTPS_PROXY/NO_PROXY, and the CAs of SSL_CERT_FILE added to the system's on
// every platform.
func newHTTPClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	if file := os.Getenv("SSL_CERT_FILE"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("cannot read SSL_CERT_FILE (%w): point it at a PEM bundle or unset it", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("SSL_CERT_FILE %s holds no PEM certificate: point it at a PEM bundle or unset it", file)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// resolveStateDir returns the state directory: configured, else
// $STATE_DIRECTORY (systemd), else <XDG state home>/entra-helper, which on
// Windows is %LOCALAPPDATA%\entra-helper unless $XDG_STATE_HOME is set.
func resolveStateDir(configured string) (string, error) {
	return stateDirFor(configured, runtime.GOOS, os.Getenv, os.UserHomeDir)
}

// stateDirFor is resolveStateDir for a given GOOS, environment and home.
func stateDirFor(configured, goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if sd := getenv("STATE_DIRECTORY"); sd != "" {
		return filepath.SplitList(sd)[0], nil
	}
	if x := getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "entra-helper"), nil
	}
	if goos == "windows" {
		// The base of os.UserCacheDir on Windows: per user, not roaming.
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "entra-helper"), nil
		}
		return "", fmt.Errorf("cannot find a state directory: %%LOCALAPPDATA%% is not set: set it or state_dir in [daemon]")
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("cannot find a state directory: set state_dir in [daemon]: %w", err)
	}
	return filepath.Join(h, ".local", "state", "entra-helper"), nil
}
