package ipc

// NotifyFDEnv names the environment variable through which a client that
// starts entra-helperd hands it the write end of a pipe: a file descriptor
// number on Unix, a handle value on Windows. The daemon writes one line to
// it and closes it: NotifyReady once it serves, or NotifyError followed by
// its one-sentence reason when it cannot start (no config file, a config
// error with file:line:key, no keychain, ...). The client shows that
// sentence instead of pointing at a log. The reason never holds a secret.
const NotifyFDEnv = "ENTRA_HELPERD_NOTIFY_FD"

// Lines a daemon writes to its notify pipe.
const (
	NotifyReady = "ready"
	NotifyError = "error "
)
