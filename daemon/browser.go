package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// openBrowser runs $BROWSER with url as its last argument, else the
// platform's opener. The URL holds no secret (PKCE keeps the verifier here).
func (d *Daemon) openBrowser(url string) error {
	name, args := browserCommand(os.Getenv("BROWSER"), url)
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot open the browser (%s): %w; open the printed URL by hand", name, err)
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// browserCommand returns the program and arguments that open url: $BROWSER
// split on white space (e.g. "firefox --new-window"), url as its last
// argument, if set; else the platform's opener.
func browserCommand(browser, url string) (string, []string) {
	if words := strings.Fields(browser); len(words) > 0 {
		return words[0], append(words[1:], url)
	}
	return platformOpener(url)
}

// platformOpener is the program that opens url in the user's browser.
func platformOpener(url string) (string, []string) {
	switch runtime.GOOS {
	case "darwin":
		return "open", []string{url}
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler", url}
	default:
		return "xdg-open", []string{url}
	}
}
