// Command hello is the floor of `make bench`: a hello-world Go program built
// like entra-helper (-trimpath -ldflags "-s -w"), whose start-up time the
// client's `token` is compared with.
package main

import "fmt"

func main() {
	fmt.Println("hello, world")
}
