package private

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestWriteNewIsPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "store.key")
	if err := WriteNew(p, []byte("0123456789abcdef0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	if err := Check(p); err != nil {
		t.Fatalf("a new file: %v", err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("read back %q, %v", b, err)
	}
	if err := WriteNew(p, []byte("x")); !errors.Is(err, os.ErrExist) {
		t.Fatalf("WriteNew over an existing file: %v, want it refused", err)
	}
}

func TestExposedFileNamesTheFix(t *testing.T) {
	p := filepath.Join(t.TempDir(), "store.key")
	if err := WriteNew(p, []byte("k")); err != nil {
		t.Fatal(err)
	}
	expose(t, p)
	err := Check(p)
	var np *NotPrivateError
	if !errors.As(err, &np) {
		t.Fatalf("Check of an exposed file: %v, want a *NotPrivateError", err)
	}
	want, wrong := "chmod 600 "+p, "icacls"
	if runtime.GOOS == "windows" {
		want, wrong = `icacls "`+p+`" /inheritance:r /grant:r`, "chmod"
	}
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), wrong) {
		t.Fatalf("error %q: want the fix %q and no %q", err, want, wrong)
	}
}

func TestDirCreatesAndTightens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	if err := Dir(dir); err != nil {
		t.Fatal(err)
	}
	if err := Check(dir); err != nil {
		t.Fatalf("a new dir: %v", err)
	}
	// Its files are private without further ado (inherited on Windows,
	// which Wine does not do).
	if !onWine() {
		f := filepath.Join(dir, "f")
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Check(f); err != nil {
			t.Fatalf("a file made in the private dir: %v", err)
		}
	}
	f, err := Create(filepath.Join(dir, "g"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := Check(f.Name()); err != nil {
		t.Fatalf("a file made by Create: %v", err)
	}
	if onWine() {
		t.Skip("Wine maps a file's DACL onto its Unix mode bits and never takes access away: tightening can be tested on Windows only")
	}
	expose(t, dir)
	if Check(dir) == nil {
		t.Fatal("the exposed dir passes Check")
	}
	if err := Dir(dir); err != nil {
		t.Fatal(err)
	}
	if err := Check(dir); err != nil {
		t.Fatalf("after Dir on the exposed dir: %v", err)
	}
}
