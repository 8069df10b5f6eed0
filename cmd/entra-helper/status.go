package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
)

const statusUsage = `Usage: entra-helper status [--json]

Shows the daemon's version, uptime and store, and for each profile its state
(ready, needs-login, error), its account, its cached tokens (scope, expiry,
next renewal, failed renewals) and its last error; then the counters of
requests served and identity-provider calls. Tokens themselves are never shown.

Options:
      --json   the daemon's status as JSON
`

func (a *app) cmdStatus(args []string) error {
	fs := newFlagSet("status")
	asJSON := fs.Bool("", "json")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q", fs.args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := a.do(ctx, &ipc.Request{Op: ipc.OpStatus}, nil)
	if err != nil {
		return err
	}
	if resp.Status == nil {
		return failf("entra-helperd answered without its status; see its log")
	}
	if *asJSON {
		return writeJSON(a.stdout, resp.Status, "  ")
	}
	return a.writeStatus(a.stdout, resp.Status)
}

// writeStatus prints s for people.
func (a *app) writeStatus(w io.Writer, s *ipc.Status) error {
	now := a.now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "daemon\tentra-helperd %s (pid %d)\n", orDefault(s.Version, "unknown version"), s.PID)
	fmt.Fprintf(tw, "uptime\t%s\n", humanDuration(time.Duration(s.Uptime*float64(time.Second))))
	store := s.Store
	if s.StoreReason != "" {
		store += " (" + s.StoreReason + ")"
	}
	fmt.Fprintf(tw, "store\t%s\n", store)
	if s.Config != "" {
		fmt.Fprintf(tw, "config\t%s\n", s.Config)
	}
	printEndpoint(tw, "metadata endpoint", s.MetadataURL, s.MetadataDown, "metadata_listen")
	printEndpoint(tw, "managed-identity endpoint", s.IdentityURL, s.IdentityDown, "identity_listen")
	fmt.Fprintf(tw, "requests served\t%d\n", s.Requests)
	fmt.Fprintf(tw, "identity-provider calls\t%d\n", s.IdPCalls)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Profiles) == 0 {
		fmt.Fprintln(w, "\nno profiles configured")
	}
	for _, p := range s.Profiles {
		fmt.Fprintf(w, "\nprofile %s (%s): %s\n", p.Name, p.Flow, p.State)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if p.Account != "" {
			fmt.Fprintf(tw, "  account\t%s\n", p.Account)
		}
		if p.Tenant != "" || p.TenantSource != "" {
			fmt.Fprintf(tw, "  tenant\t%s\n", describeTenant(p.Tenant, p.TenantSource))
		}
		if c := entra.CloudByName(p.Cloud); c != nil && p.Cloud != "" {
			fmt.Fprintf(tw, "  cloud\t%s (%s)\n", c.Name, c.CLIName)
		}
		if p.LastError != "" {
			fmt.Fprintf(tw, "  last error\t%s\n", p.LastError)
		}
		if p.State == ipc.StateNeedsLogin {
			fmt.Fprintf(tw, "  next step\trun `%s`\n", loginHint(p.Name))
		}
		tw.Flush()
		if len(p.Tokens) == 0 {
			fmt.Fprintln(w, "  no cached tokens")
			continue
		}
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SCOPE\tEXPIRES\tRENEWS AT\tFAILURES\tLAST ERROR")
		for _, t := range p.Tokens {
			renews := "-"
			if t.RenewsAt > 0 {
				renews = a.clockWithRel(t.RenewsAt, now)
			}
			expires := "none yet"
			if t.ExpiresOn > 0 {
				expires = a.clockWithRel(t.ExpiresOn, now)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", t.Scope, expires, renews,
				strconv.Itoa(t.Failures), orDefault(t.LastError, "-"))
		}
		tw.Flush()
		for _, t := range p.Tokens {
			if t.Warning != "" {
				fmt.Fprintf(w, "  warning (%s): %s\n", t.Scope, t.Warning)
			}
		}
	}
	return nil
}

// clockWithRel formats Unix time u as local "15:04:05 (in 52m)", with the
// date when it is not today.
func (a *app) clockWithRel(u int64, now time.Time) string {
	t := time.Unix(u, 0).In(a.loc)
	layout := "15:04:05"
	if y, m, d := t.Date(); y != now.In(a.loc).Year() || m != now.In(a.loc).Month() || d != now.In(a.loc).Day() {
		layout = "2006-01-02 15:04:05"
	}
	return t.Format(layout) + " (" + relTime(t, now) + ")"
}

// relTime is "in 5m10s" or "5m10s ago".
func relTime(t, now time.Time) string {
	d := t.Sub(now)
	if d >= 0 {
		return "in " + humanDuration(d)
	}
	return humanDuration(-d) + " ago"
}

// humanDuration is a short form: "3d4h", "1h02m", "5m10s", "42s".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	days := int64(d / (24 * time.Hour))
	h := int64(d/time.Hour) % 24
	m := int64(d/time.Minute) % 60
	s := int64(d/time.Second) % 60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// describeTenant is a tenant with where it came from, when not the config.
func describeTenant(tenant, from string) string {
	switch {
	case from == "" || from == "config":
		return tenant
	case tenant == "":
		return from
	}
	return tenant + " (" + from + ")"
}

// printEndpoint writes a loopback endpoint's row: its address, or why it
// could not listen and the setting that fixes it; nothing when it is off.
func printEndpoint(w io.Writer, name, addr, down, key string) {
	switch {
	case addr != "":
		fmt.Fprintf(w, "%s\t%s\n", name, addr)
	case down != "":
		fmt.Fprintf(w, "%s\toff: %s (set %s in [daemon] to a free port)\n", name, down, key)
	}
}
