// Command dbxcall shows the Databricks hook at work in `make demo`: the real
// Databricks Go SDK, configured only by the environment that
// `entra-helper databricks env` prints (auth_type metadata-service), signs a
// request; it prints the Authorization header shortened and the token's
// audience, and sends nothing anywhere.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/databricks/databricks-sdk-go/config"

	"github.com/entra-helper/entra-helper/internal/demo/jwtaud"
)

func main() {
	cfg := &config.Config{}
	req, err := http.NewRequest(http.MethodGet, os.Getenv("DATABRICKS_HOST")+"/api/2.0/clusters/list", nil)
	if err != nil {
		fail(err)
	}
	if err := cfg.Authenticate(req); err != nil {
		fail(err)
	}
	h := req.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		fail(fmt.Errorf("the SDK set no bearer token"))
	}
	fmt.Printf("auth type %s: Authorization: Bearer %s… (audience %s)\n", cfg.AuthType, tok[:min(16, len(tok))], jwtaud.Audience(tok))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dbxcall:", err)
	os.Exit(1)
}
