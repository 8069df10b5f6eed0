package ipc

import "strconv"

// A hand-written codec for the messages of the hot path: a token request and
// its answer (a token or an error). It writes exactly the bytes
// encoding/json writes for them (SetEscapeHTML(false), no trailing newline)
// and reads exactly what encoding/json reads into them, without reflection:
// the reflection caches of encoding/json cost a fresh client process more
// than its whole request (docs/performance.md), and the daemon an allocation
// per field. Anything outside that narrow shape (another field or message
// type, a string that needs an escape, a null, a number that is not a plain
// integer) makes appendFast and decodeFast report false, and the caller
// falls back to encoding/json, which stays the definition of the format. The
// differential tests and FuzzCodecMatchesJSON hold the two together.

// plainString reports whether s needs no escaping in JSON (printable ASCII
// other than '"' and '\\'): such strings are written and read verbatim.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func appendKey(b []byte, comma bool, key string) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFast appends v's JSON encoding to b if v is a message of the hot
// path whose strings need no escaping; ok is false (and b unchanged in
// meaning) otherwise.
func appendFast(b []byte, v any) (out []byte, ok bool) {
	switch m := v.(type) {
	case *Request:
		return appendRequest(b, m)
	case *Response:
		return appendResponse(b, m)
	}
	return b, false
}

func appendRequest(b []byte, r *Request) ([]byte, bool) {
	if r.Login != nil || r.Tenant != "" || !plainString(r.Op) || !plainString(r.Profile) || !plainString(r.Token) {
		return b, false // Tenant is rare (az --tenant): encoding/json writes it
	}
	for _, s := range r.Scopes {
		if !plainString(s) {
			return b, false
		}
	}
	b = appendKey(append(b, '{'), false, "v")
	b = strconv.AppendInt(b, int64(r.V), 10)
	b = appendStr(appendKey(b, true, "op"), r.Op)
	if r.Profile != "" {
		b = appendStr(appendKey(b, true, "profile"), r.Profile)
	}
	if len(r.Scopes) > 0 {
		b = append(appendKey(b, true, "scopes"), '[')
		for i, s := range r.Scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, s)
		}
		b = append(b, ']')
	}
	if r.MinValidMS != 0 {
		b = strconv.AppendInt(appendKey(b, true, "min_valid_ms"), r.MinValidMS, 10)
	}
	if r.Token != "" {
		b = appendStr(appendKey(b, true, "token"), r.Token)
	}
	return append(b, '}'), true
}

func appendResponse(b []byte, r *Response) ([]byte, bool) {
	if r.Event != nil || r.Status != nil || r.Profile != nil || r.Login != nil || r.Verify != nil || r.Checks != nil {
		return b, false
	}
	if t := r.Token; t != nil && (t.Warning != "" || !(plainString(t.AccessToken) && plainString(t.TokenType) &&
		plainString(t.Profile) && plainString(t.Scope) && plainString(t.Tenant))) {
		return b, false
	}
	if e := r.Error; e != nil && !(plainString(e.Code) && plainString(e.Message)) {
		return b, false
	}
	b = appendKey(append(b, '{'), false, "v")
	b = strconv.AppendInt(b, int64(r.V), 10)
	if e := r.Error; e != nil {
		b = appendStr(appendKey(append(appendKey(b, true, "error"), '{'), false, "code"), e.Code)
		b = append(appendStr(appendKey(b, true, "message"), e.Message), '}')
	}
	if t := r.Token; t != nil {
		b = appendStr(appendKey(append(appendKey(b, true, "token"), '{'), false, "access_token"), t.AccessToken)
		b = appendStr(appendKey(b, true, "token_type"), t.TokenType)
		b = strconv.AppendInt(appendKey(b, true, "expires_on"), t.ExpiresOn, 10)
		b = appendStr(appendKey(b, true, "profile"), t.Profile)
		b = appendStr(appendKey(b, true, "scope"), t.Scope)
		b = append(appendStr(appendKey(b, true, "tenant"), t.Tenant), '}')
	}
	return append(b, '}'), true
}

// scanner reads the narrow JSON of the hot path from s (one string holding
// the whole body, so every string value is a substring of it: no copies).
// Any byte it does not expect sets bad; the caller then falls back.
type scanner struct {
	s   string
	i   int
	bad bool
}

func (p *scanner) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (p *scanner) next(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) expect(c byte) {
	if !p.next(c) {
		p.bad = true
	}
}

// str reads a string without escapes or non-printable bytes.
func (p *scanner) str() string {
	if p.bad || !p.next('"') {
		p.bad = true
		return ""
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			p.i++
			return p.s[start : p.i-1]
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			break
		}
		p.i++
	}
	p.bad = true
	return ""
}

// int reads an integer without fraction or exponent, small enough for int64.
func (p *scanner) int() int64 {
	p.ws()
	if p.bad {
		return 0
	}
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || n > 18 || n > 1 && p.s[digits] == '0' {
		p.bad = true
		return 0
	}
	if p.i < len(p.s) {
		if c := p.s[p.i]; c == '.' || c == 'e' || c == 'E' {
			p.bad = true
			return 0
		}
	}
	v, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
	if err != nil {
		p.bad = true
	}
	return v
}

// object calls field for each key of an object until the closing brace.
func (p *scanner) object(field func(key string)) {
	p.expect('{')
	if p.bad || p.next('}') {
		return
	}
	for !p.bad {
		key := p.str()
		p.expect(':')
		if p.bad {
			return
		}
		field(key)
		if p.next(',') {
			continue
		}
		p.expect('}')
		return
	}
}

// end reports whether only white space is left.
func (p *scanner) end() bool {
	p.ws()
	return !p.bad && p.i == len(p.s)
}

// decodeFast decodes body into v, a *Request or *Response of the hot path's
// shape, as encoding/json would: the fields present overwrite v's, a
// repeated key's last value wins, and an object repeated merges into the
// same struct. It reports false, leaving v untouched, when body is outside
// that shape; the caller then decodes with encoding/json.
func decodeFast(body []byte, v any) bool {
	s := string(body) // one copy; every string value is a substring of it
	switch m := v.(type) {
	case *Request:
		var r Request
		got, ok := decodeRequest(s, &r)
		if !ok {
			return false
		}
		m.V = r.V
		if got&seenOp != 0 {
			m.Op = r.Op
		}
		if got&seenProfile != 0 {
			m.Profile = r.Profile
		}
		if got&seenScopes != 0 {
			m.Scopes = r.Scopes
		}
		if got&seenMinValid != 0 {
			m.MinValidMS = r.MinValidMS
		}
		if got&seenToken != 0 {
			m.Token = r.Token
		}
		return true
	case *Response:
		var tok tokenFields
		var errf errorFields
		if !decodeResponse(s, &tok, &errf) {
			return false
		}
		m.V = ProtocolVersion
		if tok.present {
			if m.Token == nil {
				m.Token = &Token{}
			}
			tok.mergeInto(m.Token)
		}
		if errf.present {
			if m.Error == nil {
				m.Error = &Error{}
			}
			if errf.has&1 != 0 {
				m.Error.Code = errf.Code
			}
			if errf.has&2 != 0 {
				m.Error.Message = errf.Message
			}
		}
		return true
	}
	return false
}

// seen records which fields of a Request a fast decode met.
type seen uint8

const (
	seenV seen = 1 << iota
	seenOp
	seenProfile
	seenScopes
	seenMinValid
	seenToken
)

func decodeRequest(s string, r *Request) (seen, bool) {
	p := scanner{s: s}
	var got seen
	p.object(func(key string) {
		switch key {
		case "v":
			r.V, got = int(p.int()), got|seenV
		case "op":
			r.Op, got = p.str(), got|seenOp
		case "profile":
			r.Profile, got = p.str(), got|seenProfile
		case "min_valid_ms":
			r.MinValidMS, got = p.int(), got|seenMinValid
		case "token":
			r.Token, got = p.str(), got|seenToken
		case "scopes":
			got |= seenScopes
			r.Scopes = []string{}
			p.expect('[')
			if p.bad || p.next(']') {
				return
			}
			for !p.bad {
				r.Scopes = append(r.Scopes, p.str())
				if !p.next(',') {
					p.expect(']')
					return
				}
			}
		default:
			p.bad = true
		}
	})
	return got, p.end() && got&seenV != 0 && r.V == ProtocolVersion
}

// decodeResponse reads a final answer holding a token, an error, both or
// neither.
func decodeResponse(s string, tok *tokenFields, errf *errorFields) bool {
	p := scanner{s: s}
	v, hasV := int64(0), false
	p.object(func(key string) {
		switch key {
		case "v":
			v, hasV = p.int(), true
		case "token":
			tok.present = true
			p.object(func(k string) { tok.field(&p, k) })
		case "error":
			errf.present = true
			p.object(func(k string) { errf.field(&p, k) })
		default:
			p.bad = true
		}
	})
	return p.end() && hasV && v == ProtocolVersion
}

// tokenFields is a Token read by the fast decoder and which of its fields
// were present.
type tokenFields struct {
	Token
	present bool
	has     uint8
}

func (t *tokenFields) field(p *scanner, key string) {
	switch key {
	case "access_token":
		t.AccessToken, t.has = p.str(), t.has|1
	case "token_type":
		t.TokenType, t.has = p.str(), t.has|2
	case "expires_on":
		t.ExpiresOn, t.has = p.int(), t.has|4
	case "profile":
		t.Profile, t.has = p.str(), t.has|8
	case "scope":
		t.Scope, t.has = p.str(), t.has|16
	case "tenant":
		t.Tenant, t.has = p.str(), t.has|32
	default:
		p.bad = true
	}
}

func (t *tokenFields) mergeInto(d *Token) {
	if t.has&1 != 0 {
		d.AccessToken = t.AccessToken
	}
	if t.has&2 != 0 {
		d.TokenType = t.TokenType
	}
	if t.has&4 != 0 {
		d.ExpiresOn = t.ExpiresOn
	}
	if t.has&8 != 0 {
		d.Profile = t.Profile
	}
	if t.has&16 != 0 {
		d.Scope = t.Scope
	}
	if t.has&32 != 0 {
		d.Tenant = t.Tenant
	}
}

// errorFields is an Error read by the fast decoder.
type errorFields struct {
	Error
	present bool
	has     uint8
}

func (e *errorFields) field(p *scanner, key string) {
	switch key {
	case "code":
		e.Code, e.has = p.str(), e.has|1
	case "message":
		e.Message, e.has = p.str(), e.has|2
	default:
		p.bad = true
	}
}
