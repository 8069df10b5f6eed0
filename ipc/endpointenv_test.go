package ipc

import "testing"

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8771": true, "127.9.9.9": true, "[::1]:80": true, "[::1]": true, "::1": true,
		"localhost:8771": true, "LOCALHOST": true, "evil.example:8771": false, "10.0.0.1": false,
		"": false, "localhost.evil.example": false, "0.0.0.0:80": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
