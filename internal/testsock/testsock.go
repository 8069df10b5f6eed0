// Package testsock gives tests of the socket code what they share: a fresh
// socket path (a pipe name on Windows) and, for tests that run a child as
// another user, a directory anyone may use holding a copy of the test
// binary.
package testsock
