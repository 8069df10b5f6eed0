//go:build windows

package private

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	userOnce sync.Once
	userSID  *windows.SID
	userErr  error
)

// UserSID returns the SID of the process's user, read once: the one
// own-SID lookup of the project (ipc's owner checks use it too).
func UserSID() (*windows.SID, error) { return currentUser() }

// currentUser returns the SID of the process's user.
func currentUser() (*windows.SID, error) {
	userOnce.Do(func() {
		tu, err := windows.GetCurrentProcessToken().GetTokenUser()
		if err != nil {
			userErr = fmt.Errorf("reading the current user's SID: %w", err)
			return
		}
		userSID, userErr = tu.User.Sid.Copy()
	})
	return userSID, userErr
}

// accountName names sid as DOMAIN\account, or by its SID string.
func accountName(sid *windows.SID) string {
	if account, domain, _, err := sid.LookupAccount(""); err == nil && account != "" {
		if domain != "" {
			return domain + `\` + account
		}
		return account
	}
	return sid.String()
}

// privileged tells whether sid may read every file anyway (SYSTEM, the
// Administrators group): an entry for them exposes nothing.
func privileged(sid *windows.SID) bool {
	return sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid)
}

// harmless is the access that reveals no content: reading attributes and
// the security descriptor, and waiting on the handle.
const harmless = windows.SYNCHRONIZE | windows.READ_CONTROL | windows.FILE_READ_ATTRIBUTES | windows.FILE_READ_EA

// Check returns a *NotPrivateError when the file or directory at path is
// owned by someone other than the current user (SYSTEM and Administrators
// aside), or when its DACL lets anyone else in.
func Check(path string) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("reading who may open %s: %w", path, err)
	}
	me, err := currentUser()
	if err != nil {
		return err
	}
	return checkSD(path, sd, me)
}

func checkSD(path string, sd *windows.SECURITY_DESCRIPTOR, me *windows.SID) error {
	fix := fmt.Sprintf(`run icacls "%s" /inheritance:r /grant:r "%s:F"`, path, accountName(me))
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return &NotPrivateError{Path: path, Problem: "has no owner", Fix: fmt.Sprintf(`run takeown /f "%s", then %s`, path, fix)}
	}
	if !owner.Equals(me) && !privileged(owner) {
		return &NotPrivateError{Path: path, Problem: fmt.Sprintf("is owned by %s, not by you (%s)", accountName(owner), accountName(me)), Fix: fmt.Sprintf(`run takeown /f "%s", then %s`, path, fix)}
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return &NotPrivateError{Path: path, Problem: "has no access list, so everyone may open it", Fix: fix}
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return fmt.Errorf("reading who may open %s: %w", path, err)
		}
		if ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 || ace.Header.AceType == windows.ACCESS_DENIED_ACE_TYPE {
			continue // for children only; or taking access away
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			return &NotPrivateError{Path: path, Problem: fmt.Sprintf("has an access entry of type %d that cannot be checked", ace.Header.AceType), Fix: fix}
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if sid.Equals(me) || sid.Equals(owner) || privileged(sid) || sid.IsWellKnown(windows.WinCreatorOwnerRightsSid) || ace.Mask&^harmless == 0 {
			continue
		}
		return &NotPrivateError{Path: path, Problem: fmt.Sprintf("may be opened by %s, not only by its owner", accountName(sid)), Fix: fix}
	}
	return nil
}

// ownerOnly is the security descriptor of a new private file (inherit
// false) or directory (inherit true): owned by the user sid, a protected
// DACL with one entry, full control for that user.
func ownerOnly(sid *windows.SID, inherit bool) (*windows.SECURITY_DESCRIPTOR, error) {
	flags := ""
	if inherit {
		flags = "OICI"
	}
	return windows.SecurityDescriptorFromString(fmt.Sprintf("O:%sD:P(A;%s;FA;;;%s)", sid, flags, sid))
}

// Dir creates dir (and its parents) with an owner-only DACL that its files
// inherit, or gives an existing dir of the current user such a DACL.
func Dir(dir string) error {
	me, err := currentUser()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	sd, err := ownerOnly(me, true)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	err = windows.CreateDirectory(p, &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd})
	if err == nil {
		return nil
	}
	if !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		return &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	if st, err := os.Stat(dir); err != nil {
		return err
	} else if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	cerr := Check(dir)
	var np *NotPrivateError
	if !errors.As(cerr, &np) {
		return cerr
	}
	// Tighten it, as chmod 700 would; only the owner may.
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	if err := windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		return fmt.Errorf("cannot make %s private (%v): %w", dir, cerr, err)
	}
	return Check(dir)
}

// Create creates the file path for writing, which must not exist, owned
// by the current user with an owner-only DACL (set explicitly, not left to
// inheritance).
func Create(path string) (*os.File, error) {
	me, err := currentUser()
	if err != nil {
		return nil, err
	}
	sd, err := ownerOnly(me, false)
	if err != nil {
		return nil, err
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE|windows.DELETE, 0, &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
