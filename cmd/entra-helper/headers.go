package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/entra-helper/entra-helper/ipc"
)

const headersUsage = `Usage: entra-helper headers [-p PROFILE]

Prints the request headers for the Azure Databricks REST API, one per line,
ready for curl -H @FILE:

  Authorization: Bearer <token for the Azure Databricks resource>
  X-Databricks-Azure-SP-Management-Token: <management token of the same identity, in the profile's cloud>
  X-Databricks-Azure-Workspace-Resource-Id: <the profile's workspace_resource_id, when set>

The last two let a service principal that is not yet a user of the workspace
be added on its first request (it needs Contributor on the workspace).

Example:
  curl -H @<(entra-helper headers -p sp) https://adb-123.4.azuredatabricks.net/api/2.0/clusters/list
`

func (a *app) cmdHeaders(args []string) error {
	fs := newFlagSet("headers")
	profile := a.profileFlag(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q", fs.args[0])
	}
	p, err := a.profileInfo(*profile)
	if err != nil {
		return err
	}
	tok, err := a.getToken(&ipc.Request{Op: ipc.OpToken, Profile: *profile, Scopes: []string{databricksScope}})
	if err != nil {
		return err
	}
	lines := []string{"Authorization: " + tokenType(tok) + " " + tok.AccessToken}

	mgmt, err := a.getToken(&ipc.Request{Op: ipc.OpToken, Profile: *profile, Scopes: []string{cloudOf(p).ManagementScope()}})
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && (ee.code == exitNoDaemon || ee.code == exitUnavailable) {
			return err
		}
		// A user without access to Azure management still gets the
		// Authorization header, as the Databricks SDK does.
		fmt.Fprintf(a.stderr, "entra-helper: leaving out X-Databricks-Azure-SP-Management-Token: %v\n", err)
	} else {
		lines = append(lines, "X-Databricks-Azure-SP-Management-Token: "+mgmt.AccessToken)
	}
	if p.WorkspaceResourceID != "" {
		lines = append(lines, "X-Databricks-Azure-Workspace-Resource-Id: "+p.WorkspaceResourceID)
	}
	_, err = fmt.Fprint(a.stdout, strings.Join(lines, "\n")+"\n")
	return err
}
