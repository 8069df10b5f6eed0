package entratest

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Workspace is a fake Azure Databricks workspace: served over TLS on
// 127.0.0.1 with the Server's CA, it answers GET /aad/auth with a redirect to
// the Server's sign-in page of its tenant, as a real workspace does (the
// Databricks SDKs and `curl -v <workspace>/aad/auth` read the tenant from
// it). Every other path is 404.
type Workspace struct {
	url      string
	hs       *http.Server
	requests atomic.Int64
}

// StartWorkspace starts a fake workspace whose sign-in redirects to this
// Server's tenant. Close it when done (Server.Close does not).
func (s *Server) StartWorkspace() (*Workspace, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &Workspace{url: "https://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /aad/auth", func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		q := url.Values{
			"response_type": {"code"},
			"client_id":     {"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"},
			"redirect_uri":  {w.url + "/aad/redirect"},
			"state":         {"fake-state"},
		}
		http.Redirect(rw, r, s.url+"/"+s.tenant+"/oauth2/authorize?"+q.Encode(), http.StatusFound)
	})
	cert := tls.Certificate{Certificate: [][]byte{s.tlsm.leafDER, s.tlsm.caCert.Raw}, PrivateKey: s.tlsm.leafKey}
	w.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	go func() { _ = w.hs.Serve(tln) }()
	return w, nil
}

// URL is the workspace URL, https://127.0.0.1:<port>.
func (w *Workspace) URL() string { return w.url }

// Requests is how many times /aad/auth was asked for.
func (w *Workspace) Requests() int { return int(w.requests.Load()) }

// Close stops the workspace.
func (w *Workspace) Close() { _ = w.hs.Close() }
