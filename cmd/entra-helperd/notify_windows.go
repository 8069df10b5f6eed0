//go:build windows

package main

// keepFromChildren has nothing to do on Windows: Go starts children with an
// explicit list of the handles they inherit, which never holds this one.
func keepFromChildren(uintptr) {}
