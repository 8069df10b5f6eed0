// Command fake-entra runs the entratest fake Entra ID as a process, for the
// demo and for end-to-end tests that start real binaries.
//
//	fake-entra -ca-out ca.pem -app CLIENT_ID -secret-file secret.txt \
//	    [-user alice@contoso.example -password-file pw.txt] [-lifetime 1h] [-listen 127.0.0.1:0] \
//	    [-domains contoso.example,contoso.onmicrosoft.example] [-workspace]
//
// When ready it prints one JSON line on stdout:
//
//	{"url":"https://127.0.0.1:PORT","tenant":"...","federated_issuer":"...","identity_endpoint":"...","identity_header":"...","workspace":"https://127.0.0.1:PORT2"}
//
// (workspace only with -workspace: a fake Azure Databricks workspace whose
// /aad/auth redirects to the tenant, for a profile without tenant; -domains
// lets a profile or `az --tenant` name the tenant by a verified domain).
// and runs until SIGINT or SIGTERM. The admin API under /_fake/ (see
// entratest's Options.Admin) lets a test fail, heal, revoke and read counters.
// Secrets are read from files, never from the command line.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/entra-helper/entra-helper/internal/entratest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "fake-entra:", err)
		os.Exit(1)
	}
}

// ready is the line printed when the server is listening.
type ready struct {
	URL              string `json:"url"`
	Tenant           string `json:"tenant"`
	FederatedIssuer  string `json:"federated_issuer"`
	IdentityEndpoint string `json:"identity_endpoint"`
	IdentityHeader   string `json:"identity_header"`
	Workspace        string `json:"workspace,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-entra", flag.ContinueOnError)
	fs.SetOutput(stderr)
	caOut := fs.String("ca-out", "", "write the CA certificate (PEM) to this file")
	app := fs.String("app", "", "client ID of a confidential app to register")
	secretFile := fs.String("secret-file", "", "file holding the app's client secret")
	certFile := fs.String("cert-file", "", "PEM file with the app's certificate (for client assertions)")
	fedSubject := fs.String("federated-subject", "", "accept tokens of the fake's external issuer with this subject as the app's assertion")
	publicApp := fs.String("public-app", "", "client ID of a public app (browser, device code, username/password)")
	user := fs.String("user", "", "username (UPN) of a user to add")
	passwordFile := fs.String("password-file", "", "file holding the user's password")
	lifetime := fs.Duration("lifetime", time.Hour, "access token lifetime")
	refreshIn := fs.Duration("refresh-in", 0, "if > 0, send refresh_in with tokens")
	tenant := fs.String("tenant", entratest.DefaultTenant, "tenant ID")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	singleUse := fs.Bool("single-use-refresh-tokens", false, "refresh tokens stop working once redeemed")
	autoApprove := fs.Bool("auto-approve", false, "approve device codes at once as -user")
	domains := fs.String("domains", "", "comma-separated verified domains of the tenant (its OpenID metadata answers for them)")
	workspace := fs.Bool("workspace", false, "also serve a fake Azure Databricks workspace whose /aad/auth redirects to this tenant")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if (*secretFile != "" || *certFile != "" || *fedSubject != "") && *app == "" {
		return errors.New("-secret-file, -cert-file and -federated-subject need -app")
	}
	if *passwordFile != "" && *user == "" {
		return errors.New("-password-file needs -user")
	}

	var domainList []string
	for _, d := range strings.Split(*domains, ",") {
		if d = strings.TrimSpace(d); d != "" {
			domainList = append(domainList, strings.ToLower(d))
		}
	}
	s, err := entratest.New(entratest.Options{
		Domains:                domainList,
		TokenLifetime:          *lifetime,
		RefreshIn:              *refreshIn,
		Tenant:                 *tenant,
		SingleUseRefreshTokens: *singleUse,
		AutoApproveDeviceCodes: *autoApprove,
		Admin:                  true,
		Listen:                 *listen,
	})
	if err != nil {
		return err
	}
	defer s.Close()

	if *user != "" {
		u := entratest.User{Username: *user}
		if *passwordFile != "" {
			if u.Password, err = readSecret(*passwordFile); err != nil {
				return err
			}
		}
		s.AddUser(u)
	}
	if *app != "" {
		a := entratest.App{ClientID: *app, DefaultUser: *user}
		if *secretFile != "" {
			if a.Secret, err = readSecret(*secretFile); err != nil {
				return err
			}
		}
		if *certFile != "" {
			if a.Certificate, err = readCert(*certFile); err != nil {
				return err
			}
		}
		if *fedSubject != "" {
			a.Federated = []entratest.FederatedCredential{{Issuer: s.FederatedIssuer(), Subject: *fedSubject}}
		}
		s.AddApp(a)
	}
	if *publicApp != "" {
		s.AddApp(entratest.App{ClientID: *publicApp, Public: true, DefaultUser: *user})
	}
	if *caOut != "" {
		if err := s.WriteCAFile(*caOut); err != nil {
			return err
		}
	}
	wsURL := ""
	if *workspace {
		ws, err := s.StartWorkspace()
		if err != nil {
			return err
		}
		defer ws.Close()
		wsURL = ws.URL()
	}
	env := s.ManagedIdentityEnv()
	line, err := json.Marshal(ready{
		Workspace:        wsURL,
		URL:              s.URL(),
		Tenant:           s.Tenant(),
		FederatedIssuer:  s.FederatedIssuer(),
		IdentityEndpoint: env["IDENTITY_ENDPOINT"],
		IdentityHeader:   env["IDENTITY_HEADER"],
	})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// readSecret reads a secret file, without its trailing newline.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// readCert reads the first certificate of a PEM file.
func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}
