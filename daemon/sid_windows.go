package daemon

import "golang.org/x/sys/windows"

// ownSID is the daemon's own user SID.
func ownSID() string {
	tok := windows.GetCurrentProcessToken()
	u, err := tok.GetTokenUser()
	if err != nil {
		return ""
	}
	return u.User.Sid.String()
}
