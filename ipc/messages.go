package ipc

// ProtocolVersion is the wire protocol version carried in every message ("v").
const ProtocolVersion = 1

// MaxMessageSize bounds one framed message body, in bytes.
const MaxMessageSize = 64 << 10

// Operations a Request may name.
const (
	OpToken   = "token"   // an access token for Profile and Scopes
	OpLogin   = "login"   // sign Profile in; Events may precede the answer
	OpLogout  = "logout"  // forget Profile's tokens and stored secrets
	OpStatus  = "status"  // the daemon's state
	OpProfile = "profile" // Profile's non-secret settings (hosts, ids, metadata URL)
	OpVerify  = "verify"  // check Token's RS256 signature against its issuer's keys
	OpDoctor  = "doctor"  // the daemon's own health checks (config on disk, store, clock); Profile narrows them
	// OpGitToken is OpToken for the profile's git_scope (Scopes are not
	// sent): the password of git's credential helper.
	OpGitToken = "git_token"
	// OpGitErase drops Profile's cached git_scope token, never the sign-in,
	// so that the next OpGitToken gets a new one: git was refused with it.
	// With Token set, only while that is still the cached token.
	OpGitErase = "git_erase"
)

// Request is the one message a client sends on a connection.
type Request struct {
	V       int      `json:"v"`
	Op      string   `json:"op"`
	Profile string   `json:"profile,omitempty"` // "" means the default profile
	Scopes  []string `json:"scopes,omitempty"`  // "" means the profile's scopes
	// MinValidMS asks for a token with at least this many milliseconds left;
	// 0 means the daemon's min_valid.
	MinValidMS int64         `json:"min_valid_ms,omitempty"`
	Login      *LoginRequest `json:"login,omitempty"`
	Token      string        `json:"token,omitempty"` // for OpVerify and OpGitErase
	// Tenant, for OpToken, is the tenant the caller expects (a GUID or a
	// verified domain, e.g. az's --tenant): the daemon refuses when the
	// profile signs in to another, and always for common, organizations and
	// consumers.
	Tenant string `json:"tenant,omitempty"`
}

// LoginRequest carries what a sign-in needs from the user. Secret fields are
// sent only over the peer-checked socket and never logged by either side.
type LoginRequest struct {
	ClientSecret string `json:"client_secret,omitempty"`
	Password     string `json:"password,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Certificate  string `json:"certificate,omitempty"` // PEM: certificate chain and private key
	NoBrowser    bool   `json:"no_browser,omitempty"`
}

// Response is a message from the daemon. A connection carries zero or more
// responses with Event set (progress, e.g. a device code), then exactly one
// final response with Event unset.
type Response struct {
	V       int           `json:"v"`
	Event   *Event        `json:"event,omitempty"`
	Error   *Error        `json:"error,omitempty"`
	Token   *Token        `json:"token,omitempty"`
	Status  *Status       `json:"status,omitempty"`
	Profile *ProfileInfo  `json:"profile,omitempty"`
	Login   *LoginResult  `json:"login,omitempty"`
	Verify  *VerifyResult `json:"verify,omitempty"`
	Checks  []Check       `json:"checks,omitempty"` // for OpDoctor
}

// Event kinds.
const (
	EventDeviceCode = "device_code" // Message is Entra's text to show the user
	EventBrowserURL = "browser_url" // URL is the sign-in page
	EventInfo       = "info"
)

// Event is interim progress of a long operation.
type Event struct {
	Kind    string `json:"kind"`
	Message string `json:"message,omitempty"`
	URL     string `json:"url,omitempty"`
}

// Error codes, each with the client's exit code.
const (
	CodeUsage       = "usage"       // exit 2: bad request, unknown profile or scope
	CodeNeedsLogin  = "needs_login" // exit 3: an interactive sign-in is needed
	CodeUnavailable = "unavailable" // exit 5: Entra unreachable or failing, no valid token
	CodeFailed      = "failed"      // exit 1: anything else (wrong secret, store failure, ...)
	CodeForbidden   = "forbidden"   // exit 1: the peer may not use this profile
)

// Error is a failed request: a code and one sentence for the user that names
// the profile and what to do. It never carries a token or secret.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// ExitCode maps the error code to the client's exit code.
func (e *Error) ExitCode() int {
	switch e.Code {
	case CodeUsage:
		return 2
	case CodeNeedsLogin:
		return 3
	case CodeUnavailable:
		return 5
	default:
		return 1
	}
}

// Token is an access token answer.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // "Bearer"
	ExpiresOn   int64  `json:"expires_on"` // Unix seconds
	Profile     string `json:"profile"`
	Scope       string `json:"scope"` // space-separated
	Tenant      string `json:"tenant"`
	// Warning, when set, is one sentence for the user's stderr: the token
	// has less left than asked (Entra issues shorter tokens, or it answered
	// moments ago) and what to do. The token is good to use.
	Warning string `json:"warning,omitempty"`
}

// Status is the daemon's state for `entra-helper status`.
type Status struct {
	Version     string  `json:"version"`
	PID         int     `json:"pid"`
	StartedAt   int64   `json:"started_at"` // Unix seconds
	Uptime      float64 `json:"uptime_seconds"`
	Store       string  `json:"store"`
	StoreReason string  `json:"store_reason,omitempty"`
	Config      string  `json:"config"`
	MetadataURL string  `json:"metadata_listen,omitempty"`
	IdentityURL string  `json:"identity_listen,omitempty"` // the managed-identity endpoint's address
	// MetadataDown and IdentityDown say why an endpoint could not listen
	// on its default address (taken); "" when it listens or is off.
	MetadataDown string          `json:"metadata_down,omitempty"`
	IdentityDown string          `json:"identity_down,omitempty"`
	Requests     uint64          `json:"requests"`
	IdPCalls     uint64          `json:"idp_calls"`
	Profiles     []ProfileStatus `json:"profiles"`
}

// Profile states.
const (
	StateReady      = "ready"
	StateNeedsLogin = "needs-login"
	StateError      = "error"
)

// ProfileStatus is one profile's state.
type ProfileStatus struct {
	Name    string `json:"name"`
	Flow    string `json:"flow"`
	State   string `json:"state"`
	Account string `json:"account,omitempty"` // upn or oid
	Cloud   string `json:"cloud,omitempty"`   // public | usgov | china
	Tenant  string `json:"tenant,omitempty"`
	// TenantSource says where Tenant came from: "config", or the workspace
	// whose /aad/auth redirect named it (databricks_host without tenant).
	TenantSource string        `json:"tenant_source,omitempty"`
	LastError    string        `json:"last_error,omitempty"`
	Tokens       []TokenStatus `json:"tokens"`
}

// TokenStatus is one cached token's state (never the token itself).
type TokenStatus struct {
	Scope       string `json:"scope"`
	ExpiresOn   int64  `json:"expires_on"`             // Unix seconds
	RenewsAt    int64  `json:"renews_at"`              // Unix seconds; next planned renewal or retry
	LastRenewal int64  `json:"last_renewal,omitempty"` // Unix seconds
	Failures    int    `json:"failures,omitempty"`     // consecutive failed renewals
	LastError   string `json:"last_error,omitempty"`
	Warning     string `json:"warning,omitempty"` // why the last request got less freshness than it asked for
}

// ProfileInfo is a profile's non-secret settings.
type ProfileInfo struct {
	Name                string   `json:"name"`
	Flow                string   `json:"flow"`
	Tenant              string   `json:"tenant"`                  // "" while it is still to be found from DatabricksHost
	TenantSource        string   `json:"tenant_source,omitempty"` // as in ProfileStatus
	Cloud               string   `json:"cloud,omitempty"`         // public | usgov | china: a name in entra.Clouds
	ClientID            string   `json:"client_id,omitempty"`
	Scopes              []string `json:"scopes"`
	DatabricksHost      string   `json:"databricks_host,omitempty"`
	WorkspaceResourceID string   `json:"workspace_resource_id,omitempty"`
	MetadataURL         string   `json:"metadata_url,omitempty"`  // "" when the endpoint is off
	MetadataDown        string   `json:"metadata_down,omitempty"` // why the endpoint is off when its default port was taken
	// The managed-identity endpoint ("" when off): the App Service URL
	// (IDENTITY_ENDPOINT), its header secret (IDENTITY_HEADER) and the
	// IMDS-style token URL with its secret path (ARM_MSI_ENDPOINT).
	IdentityEndpoint string `json:"identity_endpoint,omitempty"`
	IdentityHeader   string `json:"identity_header,omitempty"`
	IMDSEndpoint     string `json:"imds_endpoint,omitempty"`
}

// LoginResult tells who signed in.
type LoginResult struct {
	Account string `json:"account,omitempty"`
	Tenant  string `json:"tenant,omitempty"`
}

// VerifyResult is the outcome of OpVerify.
type VerifyResult struct {
	Valid  bool   `json:"valid"`
	KeyID  string `json:"kid,omitempty"`
	Issuer string `json:"issuer,omitempty"`
	Reason string `json:"reason,omitempty"` // why not valid
}

// Levels of a Check.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// Check is one finding of OpDoctor: what was checked, how it went and, when
// not ok, what to do about it. It never carries a token or secret.
type Check struct {
	Name    string `json:"name"`  // e.g. "config", "store", "clock"
	Level   string `json:"level"` // CheckOK, CheckWarn or CheckFail
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
	// Action names what `entra-helper doctor --fix` can do about it: one
	// of the Action constants, "" for nothing.
	Action string `json:"action,omitempty"`
}

// Actions of a Check that `entra-helper doctor --fix` can take.
const (
	ActionSetup     = "setup"      // no config file: run entra-helper setup
	ActionFileStore = "file-store" // the keychain cannot be used: switch to the file store
)
