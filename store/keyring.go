package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zalando/go-keyring"
)

// Keyring defaults.
const (
	// DefaultKeyringService is the service name items are stored under.
	DefaultKeyringService = "entra-helper"
	// DefaultKeyringTimeout bounds every Keyring call.
	DefaultKeyringTimeout = 5 * time.Second
	// MaxValueSize is the largest value any Store backend accepts (1 MiB).
	MaxValueSize = 1 << 20
	// MinKeyringItemLimit is the smallest KeyringOptions.ItemLimit accepted;
	// smaller values are raised to it (a manifest must fit in one item).
	MinKeyringItemLimit = 128
)

// KeyringOptions configures NewKeyring. The zero value gives the defaults.
type KeyringOptions struct {
	// Service is the keyring service name (default "entra-helper"). Tests
	// use their own so they never touch a real profile's items.
	Service string
	// Timeout bounds each Get, Set and Delete, including every keyring
	// item it reads or writes (default 5s).
	Timeout time.Duration
	// ItemLimit is the largest string written to one keyring item. Values
	// whose encoding is larger are split across several items under a
	// manifest. Default: 2560 on Windows, 1800 on macOS (the keychain's
	// limit of about 3000 bytes also counts the service, the account and
	// go-keyring's own re-encoding), 64 KiB elsewhere.
	ItemLimit int
	// ConfigPath is the config file that the fix of a keychain failure
	// names (store = "file" is set there).
	ConfigPath string
}

// keyringBackend is the part of go-keyring the Keyring uses; tests wrap it
// to simulate crashes.
type keyringBackend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// prober is a backend that can check, before a call and without starting
// any process, that the keychain is usable.
type prober interface {
	probe(ctx context.Context, configPath string) error
}

// goKeyring calls the OS keychain through go-keyring, after its probe.
type goKeyring struct{}

var _ prober = goKeyring{}

func (goKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (goKeyring) Set(service, user, password string) error {
	return keyring.Set(service, user, password)
}
func (goKeyring) Delete(service, user string) error { return keyring.Delete(service, user) }

// Keyring is a Store in the OS keychain (the Secret Service on Linux and the
// BSDs, the macOS keychain, the Windows Credential Manager) through
// go-keyring. Each value lives under the keyring account named by its key,
// in the service "entra-helper"; values too large for one item are split
// into chunk items named "KEY#GEN.INDEX" under a manifest kept in the KEY
// item, so keys must not contain '#'.
//
// Time limits: go-keyring calls cannot be cancelled, so each Store call runs
// them on a worker goroutine and gives up after Timeout (or when ctx ends)
// with an error that says what to check. The worker is abandoned, not
// killed. To keep an abandoned worker from corrupting later writes, only one
// worker runs at a time: the slot is released when the worker really
// returns, not when its caller gives up, so later calls queue behind it (and
// themselves time out while it is stuck). An abandoned worker also stops
// before its next keyring write, so a timed-out Set never writes a manifest
// after it was abandoned unless that write was already under way. A Set that
// timed out may therefore have taken effect or not, but it never lands after
// a later call, and readers see the old value or the new one, never a mix.
type Keyring struct {
	service string
	timeout time.Duration
	limit   int
	config  string // named in the fixes of keychain failures
	backend keyringBackend
	slot    chan struct{} // capacity 1: held by the one running worker
}

var _ Store = (*Keyring)(nil)

// NewKeyring returns a Keyring configured by opts.
func NewKeyring(opts KeyringOptions) *Keyring {
	k := &Keyring{
		service: opts.Service,
		timeout: opts.Timeout,
		limit:   opts.ItemLimit,
		config:  opts.ConfigPath,
		backend: goKeyring{},
		slot:    make(chan struct{}, 1),
	}
	if k.service == "" {
		k.service = DefaultKeyringService
	}
	if k.timeout <= 0 {
		k.timeout = DefaultKeyringTimeout
	}
	if k.limit <= 0 {
		k.limit = defaultItemLimit()
	}
	if k.limit < MinKeyringItemLimit {
		k.limit = MinKeyringItemLimit
	}
	return k
}

func defaultItemLimit() int {
	switch runtime.GOOS {
	case "windows":
		return 2560
	case "darwin":
		return 1800
	default:
		return 64 << 10
	}
}

// Name implements Store.
func (k *Keyring) Name() string { return "keyring" }

// keychainName names the OS keychain in messages.
func keychainName() string {
	switch runtime.GOOS {
	case "darwin":
		return "the macOS keychain"
	case "windows":
		return "the Windows Credential Manager"
	default:
		return "the Secret Service"
	}
}

// corruptError reports an item that cannot be decoded. Set and Delete
// replace or remove such an item; Get reports it.
type corruptError struct{ key, why string }

func (e *corruptError) Error() string {
	return fmt.Sprintf("keyring: item %q is corrupt (%s): delete it and store it again", e.key, e.why)
}

func isCorrupt(err error) bool {
	var c *corruptError
	return errors.As(err, &c)
}

// errAbandoned stops an abandoned worker before its next keyring write.
var errAbandoned = errors.New("keyring: call abandoned")

// worker is what one Store call does on the worker goroutine. It must check
// abandoned before every write.
type worker func(abandoned *atomic.Bool) error

// run runs w on a worker goroutine, one at a time, within the timeout and ctx.
func (k *Keyring) run(ctx context.Context, w worker) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	start := time.Now()
	timer := time.NewTimer(k.timeout)
	defer timer.Stop()
	select {
	case k.slot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("keyring: %w", ctx.Err())
	case <-timer.C:
		return timeoutUnavailable(k.timeout, true, k.config)
	}
	abandoned := new(atomic.Bool)
	done := make(chan error, 1)
	go func() {
		defer func() { <-k.slot }()
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("keyring: %s failed unexpectedly: %v", keychainName(), r)
			}
		}()
		if p, ok := k.backend.(prober); ok {
			// Probed on the worker: bounded by the same timeout and slot.
			pctx, cancel := context.WithTimeout(ctx, k.timeout)
			err := p.probe(pctx, k.config)
			cancel()
			if _, ok := AsUnavailable(err); !ok && errors.Is(err, context.DeadlineExceeded) {
				// Its own bound or the caller's (the daemon's start-up
				// check): either way the classified sentence.
				waited := k.timeout
				if ctx.Err() != nil {
					waited = time.Since(start).Round(100 * time.Millisecond)
				}
				err = timeoutUnavailable(waited, false, k.config)
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- w(abandoned)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		abandoned.Store(true)
		giveUp := fmt.Errorf("keyring: %w", ctx.Err())
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The caller's own bound (e.g. the daemon's start-up check).
			giveUp = timeoutUnavailable(time.Since(start).Round(100*time.Millisecond), false, k.config)
		}
		return k.finishedAnyway(done, giveUp)
	case <-timer.C:
		abandoned.Store(true)
		return k.finishedAnyway(done, timeoutUnavailable(k.timeout, false, k.config))
	}
}

// finishedAnyway returns the worker's result if it finished at the same
// moment the caller gave up, else giveUp.
func (k *Keyring) finishedAnyway(done <-chan error, giveUp error) error {
	select {
	case err := <-done:
		return err
	default:
		return giveUp
	}
}

// backendErr turns a go-keyring error into one that says what to do: a
// classified *UnavailableError for the known keychain failures.
func (k *Keyring) backendErr(op, key string, err error) error {
	if errors.Is(err, keyring.ErrSetDataTooBig) {
		return unavailable(ItemTooLarge, k.config, fmt.Sprintf(" (item %q)", key), err)
	}
	if u := classifyBackend(err, k.config); u != nil {
		return u
	}
	return fmt.Errorf("keyring: %s %q: %w", op, key, err)
}

// Item formats. The KEY item holds either the whole value ("1i:" and its
// base64) or a manifest ("1m:GEN:COUNT:SIZE:SHA256HEX") naming COUNT chunk
// items "KEY#GEN.0" ... each holding base64 of a slice of the value.
const (
	inlinePrefix   = "1i:"
	manifestPrefix = "1m:"
	chunkSep       = "#"
	maxChunks      = MaxValueSize // a chunk holds at least one byte
)

// manifest describes a chunked value.
type manifest struct {
	gen   uint64
	count int
	size  int
	sum   [sha256.Size]byte
}

func (m manifest) String() string {
	return fmt.Sprintf("%s%d:%d:%d:%s", manifestPrefix, m.gen, m.count, m.size, hex.EncodeToString(m.sum[:]))
}

// head is the decoded KEY item: an inline value or a manifest.
type head struct {
	inline   []byte
	manifest *manifest
}

// parseHead decodes a KEY item. It never panics on any input.
func parseHead(s string) (head, error) {
	switch {
	case strings.HasPrefix(s, inlinePrefix):
		v, err := base64.StdEncoding.DecodeString(s[len(inlinePrefix):])
		if err != nil {
			return head{}, errors.New("inline value is not valid base64")
		}
		if len(v) > MaxValueSize {
			return head{}, errors.New("inline value is over the size cap")
		}
		return head{inline: v}, nil
	case strings.HasPrefix(s, manifestPrefix):
		m, err := parseManifest(s[len(manifestPrefix):])
		if err != nil {
			return head{}, err
		}
		return head{manifest: &m}, nil
	}
	return head{}, errors.New("unknown item format")
}

func parseManifest(s string) (manifest, error) {
	f := strings.Split(s, ":")
	if len(f) != 4 {
		return manifest{}, errors.New("manifest: want 4 fields")
	}
	var m manifest
	var err error
	if m.gen, err = strconv.ParseUint(f[0], 10, 62); err != nil || m.gen == 0 {
		return manifest{}, errors.New("manifest: bad generation")
	}
	count, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil || count == 0 || count > maxChunks {
		return manifest{}, errors.New("manifest: bad chunk count")
	}
	size, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil || size > MaxValueSize || size < count {
		return manifest{}, errors.New("manifest: bad size")
	}
	m.count, m.size = int(count), int(size)
	if len(f[3]) != 2*sha256.Size {
		return manifest{}, errors.New("manifest: bad checksum")
	}
	if _, err := hex.Decode(m.sum[:], []byte(f[3])); err != nil {
		return manifest{}, errors.New("manifest: bad checksum")
	}
	return m, nil
}

func chunkUser(key string, gen uint64, i int) string {
	return key + chunkSep + strconv.FormatUint(gen, 10) + "." + strconv.Itoa(i)
}

// validKey checks a key: 1 to 256 printable ASCII characters (space
// included), none of them '#', which the Keyring reserves for chunk names.
func validKey(key string) error {
	if key == "" || len(key) > 256 {
		return fmt.Errorf("store: invalid key %q: want 1 to 256 characters", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 0x20 || c > 0x7e || c == '#' {
			return fmt.Errorf("store: invalid key %q: only printable ASCII without '#'", key)
		}
	}
	return nil
}

func tooBig(key string, n int) error {
	return fmt.Errorf("store: value for %q is %d bytes, over the %d-byte limit", key, n, MaxValueSize)
}

// Get implements Store.
func (k *Keyring) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	var out []byte
	err := k.run(ctx, func(abandoned *atomic.Bool) error {
		v, err := k.read(key, abandoned)
		out = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// read returns the value of key; it runs on the worker.
func (k *Keyring) read(key string, abandoned *atomic.Bool) ([]byte, error) {
	h, found, err := k.readHead(key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	if h.manifest == nil {
		return h.inline, nil
	}
	m := h.manifest
	buf := make([]byte, 0, m.size)
	for i := 0; i < m.count; i++ {
		if abandoned.Load() {
			return nil, errAbandoned
		}
		user := chunkUser(key, m.gen, i)
		s, err := k.backend.Get(k.service, user)
		if errors.Is(err, keyring.ErrNotFound) {
			return nil, &corruptError{key: key, why: fmt.Sprintf("chunk %d of %d is missing", i+1, m.count)}
		}
		if err != nil {
			return nil, k.backendErr("reading", user, err)
		}
		if base64.StdEncoding.DecodedLen(len(s)) > m.size-len(buf)+3 {
			return nil, &corruptError{key: key, why: fmt.Sprintf("chunk %d is too long", i+1)}
		}
		c, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, &corruptError{key: key, why: fmt.Sprintf("chunk %d is not base64", i+1)}
		}
		buf = append(buf, c...)
	}
	sum := sha256.Sum256(buf)
	if len(buf) != m.size || subtle.ConstantTimeCompare(sum[:], m.sum[:]) != 1 {
		return nil, &corruptError{key: key, why: "checksum mismatch"}
	}
	return buf, nil
}

// readHead reads and decodes the KEY item.
func (k *Keyring) readHead(key string) (head, bool, error) {
	s, err := k.backend.Get(k.service, key)
	if errors.Is(err, keyring.ErrNotFound) {
		return head{}, false, nil
	}
	if err != nil {
		return head{}, false, k.backendErr("reading", key, err)
	}
	h, err := parseHead(s)
	if err != nil {
		return head{}, true, &corruptError{key: key, why: err.Error()}
	}
	return h, true, nil
}

// Set implements Store. A value that fits one item is written in place
// (the keychain replaces an item atomically). A larger one is written as
// chunks of a new generation under new names, then the manifest that
// points at them replaces the old one, then the old generation's chunks are
// deleted; a crash at any point leaves the old or the new value readable.
func (k *Keyring) Set(ctx context.Context, key string, value []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return tooBig(key, len(value))
	}
	value = append([]byte(nil), value...) // the worker may outlive the caller
	return k.run(ctx, func(abandoned *atomic.Bool) error {
		return k.write(key, value, abandoned)
	})
}

func (k *Keyring) write(key string, value []byte, abandoned *atomic.Bool) error {
	old, _, err := k.readHead(key)
	if err != nil && !isCorrupt(err) {
		return err // a corrupt old item is simply replaced
	}
	var oldGen uint64
	if old.manifest != nil {
		oldGen = old.manifest.gen
	}
	gen := oldGen + 1

	enc := base64.StdEncoding.EncodeToString(value)
	if len(inlinePrefix)+len(enc) <= k.limit {
		if abandoned.Load() {
			return errAbandoned
		}
		if err := k.backend.Set(k.service, key, inlinePrefix+enc); err != nil {
			return k.backendErr("writing", key, err)
		}
		k.cleanup(key, old.manifest, gen, 0)
		return nil
	}

	per := k.limit / 4 * 3 // raw bytes per chunk item
	m := manifest{gen: gen, size: len(value), sum: sha256.Sum256(value)}
	m.count = (len(value) + per - 1) / per
	for i := 0; i < m.count; i++ {
		if abandoned.Load() {
			return errAbandoned
		}
		end := min((i+1)*per, len(value))
		user := chunkUser(key, gen, i)
		if err := k.backend.Set(k.service, user, base64.StdEncoding.EncodeToString(value[i*per:end])); err != nil {
			return k.backendErr("writing", user, err)
		}
	}
	if abandoned.Load() {
		return errAbandoned
	}
	if err := k.backend.Set(k.service, key, m.String()); err != nil {
		return k.backendErr("writing", key, err)
	}
	k.cleanup(key, old.manifest, gen, m.count)
	return nil
}

// cleanup deletes the chunks no manifest points at any more: the old
// generation's, the one before it (if a Set died during cleanup), and those of generation gen from index from on (left by an
// earlier Set that died before writing its manifest). It runs even when the
// call was abandoned: these items are unreachable, and the one-worker slot
// keeps it ahead of later calls. Errors are ignored: the value is written.
func (k *Keyring) cleanup(key string, old *manifest, gen uint64, from int) {
	if old != nil {
		for i := old.count - 1; i >= 0; i-- {
			_ = k.backend.Delete(k.service, chunkUser(key, old.gen, i))
		}
		if old.gen > 1 {
			k.sweep(key, old.gen-1, 0) // left if a Set died during its cleanup
		}
	}
	k.sweep(key, gen, from)
}

// sweep deletes chunks of generation gen from index from until one is missing.
func (k *Keyring) sweep(key string, gen uint64, from int) {
	for i := from; i < maxChunks; i++ {
		if err := k.backend.Delete(k.service, chunkUser(key, gen, i)); err != nil {
			return
		}
	}
}

// Delete implements Store: it removes the KEY item first (the value is gone
// at once), then its chunks.
func (k *Keyring) Delete(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	return k.run(ctx, func(abandoned *atomic.Bool) error {
		h, found, err := k.readHead(key)
		if err != nil && !isCorrupt(err) {
			return err
		}
		if abandoned.Load() {
			return errAbandoned
		}
		if found {
			err := k.backend.Delete(k.service, key)
			if err != nil && !errors.Is(err, keyring.ErrNotFound) {
				return k.backendErr("deleting", key, err)
			}
		}
		var gen uint64
		if h.manifest != nil {
			gen = h.manifest.gen
		}
		k.cleanup(key, h.manifest, gen+1, 0)
		return nil
	})
}
