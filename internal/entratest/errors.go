package entratest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// entraError is the JSON body Entra's token and device code endpoints send
// with every failure.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
	SubError         string `json:"suberror,omitempty"`
	Claims           string `json:"claims,omitempty"`
}

// apiError is a failure the fake answers with: HTTP status, OAuth error,
// AADSTS number and text (without the "AADSTSn: " prefix).
type apiError struct {
	status     int
	code       string
	aadsts     int
	text       string
	suberror   string
	claims     string
	retryAfter time.Duration
}

func (e *apiError) Error() string { return fmt.Sprintf("%s AADSTS%d", e.code, e.aadsts) }

func newErr(status int, code string, aadsts int, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, aadsts: aadsts, text: fmt.Sprintf(format, args...)}
}

const entraTime = "2006-01-02 15:04:05Z"

// writeEntraError writes e in Entra's shape. The correlation ID echoes the
// client-request-id header when the client sent one, as Entra does.
func (s *Server) writeEntraError(w http.ResponseWriter, r *http.Request, e *apiError) {
	trace := newUUID()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = newUUID()
	}
	now := time.Now().UTC()
	body := entraError{
		Error: e.code,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			e.aadsts, e.text, trace, corr, now.Format(entraTime)),
		ErrorCodes:    []int{e.aadsts},
		Timestamp:     now.Format(entraTime),
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      s.url + "/error?code=" + strconv.Itoa(e.aadsts),
		SubError:      e.suberror,
		Claims:        e.claims,
	}
	h := w.Header()
	h.Set("x-ms-request-id", trace)
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// outageError is what FailTokens makes every token request answer.
func outageError(status int, retryAfter time.Duration) *apiError {
	var e *apiError
	switch {
	case status == http.StatusTooManyRequests:
		e = newErr(status, "temporarily_unavailable", 90055,
			"The request has been throttled. Too many requests were sent for this application and tenant in a short time. Retry after the time given in the Retry-After header.")
	case status == http.StatusInternalServerError:
		e = newErr(status, "server_error", 50000,
			"There was an error issuing a token or an issue with our sign-in service.")
	default:
		e = newErr(status, "temporarily_unavailable", 90033,
			"A transient error has occurred. Please try again.")
	}
	e.retryAfter = retryAfter
	return e
}
