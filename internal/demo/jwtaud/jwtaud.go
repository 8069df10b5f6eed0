// Package jwtaud reads the audience of a JWT for the demo programs, which
// show what they got without printing the token.
package jwtaud

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Audience returns the aud claim of jwt, "?" when it cannot be read. It
// checks nothing: the demo only shows it.
func Audience(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "?"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "?"
	}
	var c struct {
		Aud string `json:"aud"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return "?"
	}
	return c.Aud
}
