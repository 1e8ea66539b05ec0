package stratum

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Extranonce2 size bounds accepted in subscribe and set_extranonce results
// (cpuminer-opt's range; proxies need at least 4 in practice).
const (
	MinExtranonce2Size = 2
	MaxExtranonce2Size = 16
	// MaxExtranonce1Size bounds extranonce1 (ckpool allows 2..8; NiceHash up to 8).
	MaxExtranonce1Size = 16
	// MaxBranchLen bounds the merkle branch (a block of 2^24 txs needs 24).
	MaxBranchLen = 32
)

// ParamError reports a bad parameter of a method. It wraps ErrInvalidParams.
type ParamError struct {
	Method string
	Field  string
	Reason string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("stratum: %s: %s: %s", e.Method, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidParams.
func (e *ParamError) Unwrap() error { return ErrInvalidParams }

func perr(method, field, format string, args ...any) error {
	return &ParamError{Method: method, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// params splits a JSON params array, checking its length is within [min, max]
// (max < 0: unbounded). null counts as an empty array.
func params(method string, raw json.RawMessage, min, max int) ([]json.RawMessage, error) {
	if isNull(raw) {
		raw = json.RawMessage("[]")
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, perr(method, "params", "not a JSON array")
	}
	if len(arr) < min || (max >= 0 && len(arr) > max) {
		if max == min {
			return nil, perr(method, "params", "got %d entries, want %d", len(arr), min)
		}
		return nil, perr(method, "params", "got %d entries, want %d..%d", len(arr), min, max)
	}
	return arr, nil
}

func str(method, field string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", perr(method, field, "not a string")
	}
	return s, nil
}

// optStr accepts a string or null.
func optStr(method, field string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	return str(method, field, raw)
}

func hexBytes(method, field string, raw json.RawMessage, maxLen int) ([]byte, error) {
	s, err := str(method, field, raw)
	if err != nil {
		return nil, err
	}
	if len(s) > 2*maxLen {
		return nil, perr(method, field, "%d hex digits, at most %d", len(s), 2*maxLen)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, perr(method, field, "bad hex")
	}
	return b, nil
}

func hexFixed(method, field string, raw json.RawMessage, n int) ([]byte, error) {
	b, err := hexBytes(method, field, raw, n)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, perr(method, field, "%d bytes, want %d", len(b), n)
	}
	return b, nil
}

// hexU32 decodes 8 hex digits, big-endian.
func hexU32(method, field string, raw json.RawMessage) (uint32, error) {
	b, err := hexFixed(method, field, raw, 4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// HexU32 formats v as 8 lower-case hex digits, big-endian (the wire form
// of version, nbits, ntime, nonce and masks).
func HexU32(v uint32) string { return string(appendHexU32(make([]byte, 0, 8), v)) }

// number decodes a JSON number or a numeric string (cpuminer-opt sends
// suggest_difficulty as a string) into a finite float64.
func number(method, field string, raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, perr(method, field, "not a number")
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, perr(method, field, "not a number")
		}
		s = n.String()
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, perr(method, field, "not a finite number")
	}
	return f, nil
}

func positive(method, field string, raw json.RawMessage) (float64, error) {
	f, err := number(method, field, raw)
	if err != nil {
		return 0, err
	}
	if f <= 0 {
		return 0, perr(method, field, "%g is not positive", f)
	}
	return f, nil
}

// integer decodes a JSON integer or a decimal string.
func integer(method, field string, raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, perr(method, field, "not an integer")
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, perr(method, field, "not an integer")
		}
		s = n.String()
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, perr(method, field, "not an integer")
	}
	return v, nil
}

// swapWords byte-reverses each 4-byte word: it converts between Stratum's
// word-swapped prevhash and internal byte order (the operation is its own
// inverse).
func swapWords(in [32]byte) [32]byte {
	var out [32]byte
	for i := 0; i < 32; i += 4 {
		out[i], out[i+1], out[i+2], out[i+3] = in[i+3], in[i+2], in[i+1], in[i]
	}
	return out
}

// ---- mining.subscribe ----

// Subscribe is the params of mining.subscribe: [user_agent?, session_id?].
// Further entries some clients send (host, port) are ignored.
type Subscribe struct {
	UserAgent string
	SessionID string // extranonce1 of a previous session to resume; optional
}

// MarshalJSON encodes [] , [ua] or [ua, session].
func (p Subscribe) MarshalJSON() ([]byte, error) {
	switch {
	case p.SessionID != "":
		return json.Marshal([]string{p.UserAgent, p.SessionID})
	case p.UserAgent != "":
		return json.Marshal([]string{p.UserAgent})
	default:
		return []byte("[]"), nil
	}
}

// UnmarshalJSON decodes the params array.
func (p *Subscribe) UnmarshalJSON(b []byte) error {
	arr, err := params(MethodSubscribe, b, 0, -1)
	if err != nil {
		return err
	}
	*p = Subscribe{}
	if len(arr) > 0 {
		if p.UserAgent, err = optStr(MethodSubscribe, "user_agent", arr[0]); err != nil {
			return err
		}
	}
	if len(arr) > 1 {
		if p.SessionID, err = optStr(MethodSubscribe, "session_id", arr[1]); err != nil {
			return err
		}
	}
	return nil
}

// Subscription is one (method, subscription id) pair of a subscribe result.
type Subscription struct {
	Method string
	ID     string
}

// SubscribeResult is the result of mining.subscribe:
// [[["mining.set_difficulty", id], ["mining.notify", id]], extranonce1, extranonce2_size].
// Decoding also accepts p2pool's flat ["mining.notify", id] and ckpool's
// single pair, and requires extranonce2_size in
// [MinExtranonce2Size, MaxExtranonce2Size].
type SubscribeResult struct {
	Subscriptions   []Subscription
	Extranonce1     []byte
	Extranonce2Size int
}

// MarshalJSON encodes the nested form.
func (r SubscribeResult) MarshalJSON() ([]byte, error) {
	subs := make([][2]string, 0, len(r.Subscriptions))
	for _, s := range r.Subscriptions {
		subs = append(subs, [2]string{s.Method, s.ID})
	}
	return json.Marshal([]any{subs, hex.EncodeToString(r.Extranonce1), r.Extranonce2Size})
}

// UnmarshalJSON decodes and validates the result.
func (r *SubscribeResult) UnmarshalJSON(b []byte) error {
	const m = MethodSubscribe + " result"
	arr, err := params(m, b, 3, -1)
	if err != nil {
		return err
	}
	*r = SubscribeResult{}
	// Subscriptions: [[m,id],…] or [m,id] (p2pool) or null.
	var nested [][]json.RawMessage
	var flat []json.RawMessage
	switch {
	case isNull(arr[0]):
	case json.Unmarshal(arr[0], &nested) == nil:
		for _, pair := range nested {
			if len(pair) < 1 {
				continue
			}
			s := Subscription{Method: looseString(pair[0])}
			if len(pair) > 1 {
				s.ID = looseString(pair[1])
			}
			r.Subscriptions = append(r.Subscriptions, s)
		}
	case json.Unmarshal(arr[0], &flat) == nil:
		if len(flat) > 0 {
			s := Subscription{Method: looseString(flat[0])}
			if len(flat) > 1 {
				s.ID = looseString(flat[1])
			}
			r.Subscriptions = append(r.Subscriptions, s)
		}
	default:
		return perr(m, "subscriptions", "not an array")
	}
	if r.Extranonce1, err = hexBytes(m, "extranonce1", arr[1], MaxExtranonce1Size); err != nil {
		return err
	}
	size, err := integer(m, "extranonce2_size", arr[2])
	if err != nil {
		return err
	}
	if size < MinExtranonce2Size || size > MaxExtranonce2Size {
		return perr(m, "extranonce2_size", "%d outside %d..%d", size, MinExtranonce2Size, MaxExtranonce2Size)
	}
	r.Extranonce2Size = int(size)
	return nil
}

// ---- mining.authorize ----

// Authorize is the params of mining.authorize: [username, password].
// The username must be a string; whether a name is acceptable (empty,
// charset, length) is the server's rule, not the wire's. The password may
// be absent or null (empty); a non-string password (some firmware sends a
// number) decodes as its JSON text.
type Authorize struct {
	User     string
	Password string
}

// MarshalJSON encodes [user, password].
func (p Authorize) MarshalJSON() ([]byte, error) {
	return json.Marshal([]string{p.User, p.Password})
}

// UnmarshalJSON decodes the params array.
func (p *Authorize) UnmarshalJSON(b []byte) error {
	arr, err := params(MethodAuthorize, b, 1, 2)
	if err != nil {
		return err
	}
	*p = Authorize{}
	if p.User, err = str(MethodAuthorize, "username", arr[0]); err != nil {
		return err
	}
	if len(arr) > 1 && !isNull(arr[1]) {
		p.Password = looseString(arr[1])
	}
	return nil
}

// ---- mining.set_difficulty / mining.suggest_difficulty ----

// SetDifficulty is the params of mining.set_difficulty: [diff]. Difficulty
// is positive and finite; it may be fractional.
type SetDifficulty struct {
	Difficulty float64
}

// MarshalJSON encodes [diff].
func (p SetDifficulty) MarshalJSON() ([]byte, error) {
	return json.Marshal([]float64{p.Difficulty})
}

// UnmarshalJSON decodes the params array.
func (p *SetDifficulty) UnmarshalJSON(b []byte) error {
	arr, err := params(MethodSetDifficulty, b, 1, 1)
	if err != nil {
		return err
	}
	d, err := positive(MethodSetDifficulty, "difficulty", arr[0])
	if err != nil {
		return err
	}
	p.Difficulty = d
	return nil
}

// SuggestDifficulty is the params of mining.suggest_difficulty: [diff].
// Decoding accepts a number or a numeric string (cpuminer-opt).
type SuggestDifficulty struct {
	Difficulty float64
}

// MarshalJSON encodes [diff] as a JSON number.
func (p SuggestDifficulty) MarshalJSON() ([]byte, error) {
	return json.Marshal([]float64{p.Difficulty})
}

// UnmarshalJSON decodes the params array.
func (p *SuggestDifficulty) UnmarshalJSON(b []byte) error {
	arr, err := params(MethodSuggestDifficulty, b, 1, 1)
	if err != nil {
		return err
	}
	d, err := positive(MethodSuggestDifficulty, "difficulty", arr[0])
	if err != nil {
		return err
	}
	p.Difficulty = d
	return nil
}

// ---- mining.notify ----

// Notify is the params of mining.notify, decoded and validated:
// [job_id, prevhash, coinb1, coinb2, merkle_branch, version, nbits, ntime, clean_jobs].
// Entries beyond the ninth are ignored.
type Notify struct {
	JobID    string
	PrevHash [32]byte   // internal byte order (converted from the word-swapped wire form)
	Coinb1   []byte     // coinbase bytes before extranonce1
	Coinb2   []byte     // coinbase bytes after extranonce2
	Branch   [][32]byte // merkle branch, internal order, as sent
	Version  uint32
	NBits    uint32
	NTime    uint32
	Clean    bool
}

// MarshalJSON encodes the 9-entry params array.
func (p Notify) MarshalJSON() ([]byte, error) {
	branch := make([]string, len(p.Branch))
	for i := range p.Branch {
		branch[i] = hex.EncodeToString(p.Branch[i][:])
	}
	prev := swapWords(p.PrevHash)
	return json.Marshal([]any{
		p.JobID,
		hex.EncodeToString(prev[:]),
		hex.EncodeToString(p.Coinb1),
		hex.EncodeToString(p.Coinb2),
		branch,
		HexU32(p.Version),
		HexU32(p.NBits),
		HexU32(p.NTime),
		p.Clean,
	})
}

// UnmarshalJSON decodes and validates the params array. A job id may be a
// JSON string or number (kept as its text); it must not be empty.
func (p *Notify) UnmarshalJSON(b []byte) error {
	const m = MethodNotify
	arr, err := params(m, b, 9, -1)
	if err != nil {
		return err
	}
	var n Notify
	n.JobID = strings.TrimSpace(looseString(arr[0]))
	if n.JobID == "" || isNull(arr[0]) || n.JobID[0] == '[' || n.JobID[0] == '{' {
		return perr(m, "job_id", "missing or not a string")
	}
	if len(n.JobID) > 128 {
		return perr(m, "job_id", "longer than 128 characters")
	}
	prev, err := hexFixed(m, "prevhash", arr[1], 32)
	if err != nil {
		return err
	}
	n.PrevHash = swapWords([32]byte(prev))
	if n.Coinb1, err = hexBytes(m, "coinb1", arr[2], MaxLineLen); err != nil {
		return err
	}
	if n.Coinb2, err = hexBytes(m, "coinb2", arr[3], MaxLineLen); err != nil {
		return err
	}
	var branch []json.RawMessage
	if !isNull(arr[4]) {
		if err := json.Unmarshal(arr[4], &branch); err != nil {
			return perr(m, "merkle_branch", "not an array")
		}
	}
	if len(branch) > MaxBranchLen {
		return perr(m, "merkle_branch", "%d entries, at most %d", len(branch), MaxBranchLen)
	}
	n.Branch = make([][32]byte, len(branch))
	for i, raw := range branch {
		h, err := hexFixed(m, fmt.Sprintf("merkle_branch[%d]", i), raw, 32)
		if err != nil {
			return err
		}
		n.Branch[i] = [32]byte(h)
	}
	if n.Version, err = hexU32(m, "version", arr[5]); err != nil {
		return err
	}
	if n.NBits, err = hexU32(m, "nbits", arr[6]); err != nil {
		return err
	}
	if n.NTime, err = hexU32(m, "ntime", arr[7]); err != nil {
		return err
	}
	if err := json.Unmarshal(arr[8], &n.Clean); err != nil || isNull(arr[8]) {
		return perr(m, "clean_jobs", "not a boolean")
	}
	*p = n
	return nil
}

// ---- mining.submit ----

// Submit is the params of mining.submit:
// [worker, job_id, extranonce2, ntime, nonce, version_bits?].
// NTime, Nonce and VersionBits travel as 8 big-endian hex digits.
// VersionBits is sent only when HasVersionBits (after version rolling was
// negotiated); it holds the rolled bits (the full rolled version masked
// with the negotiated mask), as BIP310 specifies.
type Submit struct {
	Worker         string
	JobID          string
	Extranonce2    []byte
	NTime          uint32
	Nonce          uint32
	VersionBits    uint32
	HasVersionBits bool
}

// MarshalJSON encodes the params array.
func (p Submit) MarshalJSON() ([]byte, error) {
	a := []string{p.Worker, p.JobID, hex.EncodeToString(p.Extranonce2), HexU32(p.NTime), HexU32(p.Nonce)}
	if p.HasVersionBits {
		a = append(a, HexU32(p.VersionBits))
	}
	return json.Marshal(a)
}

// Fields of mining.submit whose errors SubmitReject tells apart.
const (
	submitFieldExtranonce2 = "extranonce2"
	submitFieldVersionBits = "version_bits"
)

// UnmarshalJSON decodes and validates the params array. The extranonce2
// length is not checked here (the pool knows the size it assigned).
func (p *Submit) UnmarshalJSON(b []byte) error {
	const m = MethodSubmit
	arr, err := params(m, b, 5, 6)
	if err != nil {
		return err
	}
	var s Submit
	if s.Worker, err = str(m, "worker", arr[0]); err != nil {
		return err
	}
	s.JobID = strings.TrimSpace(looseString(arr[1]))
	if s.JobID == "" || isNull(arr[1]) {
		return perr(m, "job_id", "missing")
	}
	if len(s.JobID) > 128 {
		return perr(m, "job_id", "longer than 128 characters")
	}
	if s.Extranonce2, err = hexBytes(m, submitFieldExtranonce2, arr[2], MaxExtranonce2Size); err != nil {
		return err
	}
	if len(s.Extranonce2) == 0 {
		return perr(m, submitFieldExtranonce2, "empty")
	}
	if s.NTime, err = hexU32(m, "ntime", arr[3]); err != nil {
		return err
	}
	if s.Nonce, err = hexU32(m, "nonce", arr[4]); err != nil {
		return err
	}
	if len(arr) > 5 && !isNull(arr[5]) {
		if s.VersionBits, err = hexU32(m, submitFieldVersionBits, arr[5]); err != nil {
			return err
		}
		s.HasVersionBits = true
	}
	*p = s
	return nil
}

// ---- mining.configure (BIP310) ----

// Configure is the params of mining.configure: [[ext…], {ext.param: value…}].
type Configure struct {
	Extensions []string
	Params     map[string]json.RawMessage
}

// VersionRollingRequest returns Configure asking for version rolling with
// mask and minBitCount.
func VersionRollingRequest(mask uint32, minBitCount int) Configure {
	return Configure{
		Extensions: []string{ExtensionVersionRolling},
		Params: map[string]json.RawMessage{
			VersionRollingMaskKey:    json.RawMessage(strconv.Quote(HexU32(mask))),
			VersionRollingMinBitsKey: json.RawMessage(strconv.Itoa(minBitCount)),
		},
	}
}

// MarshalJSON encodes [[ext…], {params}].
func (p Configure) MarshalJSON() ([]byte, error) {
	ext := p.Extensions
	if ext == nil {
		ext = []string{}
	}
	prm := p.Params
	if prm == nil {
		prm = map[string]json.RawMessage{}
	}
	return json.Marshal([]any{ext, prm})
}

// UnmarshalJSON decodes the params array; the second entry may be absent.
func (p *Configure) UnmarshalJSON(b []byte) error {
	const m = MethodConfigure
	arr, err := params(m, b, 1, 2)
	if err != nil {
		return err
	}
	var c Configure
	if err := json.Unmarshal(arr[0], &c.Extensions); err != nil {
		return perr(m, "extensions", "not an array of strings")
	}
	c.Params = map[string]json.RawMessage{}
	if len(arr) > 1 && !isNull(arr[1]) {
		if err := json.Unmarshal(arr[1], &c.Params); err != nil {
			return perr(m, "extension-params", "not an object")
		}
	}
	*p = c
	return nil
}

// VersionRolling returns the requested mask (default 0xffffffff when
// omitted) and minimum bit count (default 0) if version rolling was asked for.
func (p Configure) VersionRolling() (mask uint32, minBits int, ok bool, err error) {
	found := false
	for _, e := range p.Extensions {
		if e == ExtensionVersionRolling {
			found = true
		}
	}
	if !found {
		return 0, 0, false, nil
	}
	mask = defaultVersionRollingAllOn
	if raw, ok := p.Params[VersionRollingMaskKey]; ok {
		if mask, err = hexU32(MethodConfigure, VersionRollingMaskKey, raw); err != nil {
			return 0, 0, false, err
		}
	}
	if raw, ok := p.Params[VersionRollingMinBitsKey]; ok {
		n, err := integer(MethodConfigure, VersionRollingMinBitsKey, raw)
		if err != nil {
			return 0, 0, false, err
		}
		if n < 0 || n > 32 {
			return 0, 0, false, perr(MethodConfigure, VersionRollingMinBitsKey, "%d outside 0..32", n)
		}
		minBits = int(n)
	}
	return mask, minBits, true, nil
}

// MinimumDifficultyExtension is the mining.configure extension by which a
// miner asks for a difficulty floor ("minimum-difficulty.value").
const (
	MinimumDifficultyExtension = "minimum-difficulty"
	MinimumDifficultyValueKey  = "minimum-difficulty.value"
)

// MinimumDifficulty returns the floor asked for with the
// minimum-difficulty extension (a positive number or numeric string).
// ok is false when the extension was not requested; err (wrapping
// ErrInvalidParams) when it was, with a missing or bad value.
func (p Configure) MinimumDifficulty() (d float64, ok bool, err error) {
	found := false
	for _, e := range p.Extensions {
		found = found || e == MinimumDifficultyExtension
	}
	if !found {
		return 0, false, nil
	}
	raw, present := p.Params[MinimumDifficultyValueKey]
	if !present {
		return 0, false, perr(MethodConfigure, MinimumDifficultyValueKey, "missing")
	}
	if d, err = positive(MethodConfigure, MinimumDifficultyValueKey, raw); err != nil {
		return 0, false, err
	}
	return d, true, nil
}

// ConfigureResult is the result of mining.configure: one entry per
// requested extension plus its parameters, e.g.
// {"version-rolling":true,"version-rolling.mask":"1fffe000"}.
type ConfigureResult map[string]json.RawMessage

// VersionRollingResult builds a result granting (or, ok false, refusing)
// version rolling with mask.
func VersionRollingResult(ok bool, mask uint32) ConfigureResult {
	r := ConfigureResult{ExtensionVersionRolling: json.RawMessage(strconv.FormatBool(ok))}
	if ok {
		r[VersionRollingMaskKey] = json.RawMessage(strconv.Quote(HexU32(mask)))
	}
	return r
}

// VersionRolling reports whether the server granted version rolling and
// the mask it granted. A grant without a mask, or with a zero mask, counts
// as refused (BIP310 requires the mask in the reply).
func (r ConfigureResult) VersionRolling() (mask uint32, ok bool, err error) {
	raw, found := r[ExtensionVersionRolling]
	if !found {
		return 0, false, nil
	}
	var granted bool
	if json.Unmarshal(raw, &granted) != nil || !granted {
		return 0, false, nil
	}
	mraw, found := r[VersionRollingMaskKey]
	if !found {
		return 0, false, perr(MethodConfigure+" result", VersionRollingMaskKey, "missing")
	}
	if mask, err = hexU32(MethodConfigure+" result", VersionRollingMaskKey, mraw); err != nil {
		return 0, false, err
	}
	return mask, mask != 0, nil
}

// SetVersionMask is the params of mining.set_version_mask: [mask].
type SetVersionMask struct {
	Mask uint32
}

// MarshalJSON encodes [mask].
func (p SetVersionMask) MarshalJSON() ([]byte, error) {
	return json.Marshal([]string{HexU32(p.Mask)})
}

// UnmarshalJSON decodes the params array.
func (p *SetVersionMask) UnmarshalJSON(b []byte) error {
	arr, err := params(MethodSetVersionMask, b, 1, 1)
	if err != nil {
		return err
	}
	p.Mask, err = hexU32(MethodSetVersionMask, "mask", arr[0])
	return err
}

// ---- mining.set_extranonce (NiceHash) ----

// SetExtranonce is the params of mining.set_extranonce:
// [extranonce1, extranonce2_size]. It applies to jobs notified after it.
type SetExtranonce struct {
	Extranonce1     []byte
	Extranonce2Size int
}

// MarshalJSON encodes [extranonce1, size].
func (p SetExtranonce) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{hex.EncodeToString(p.Extranonce1), p.Extranonce2Size})
}

// UnmarshalJSON decodes and validates the params array.
func (p *SetExtranonce) UnmarshalJSON(b []byte) error {
	const m = MethodSetExtranonce
	arr, err := params(m, b, 2, 2)
	if err != nil {
		return err
	}
	var s SetExtranonce
	if s.Extranonce1, err = hexBytes(m, "extranonce1", arr[0], MaxExtranonce1Size); err != nil {
		return err
	}
	size, err := integer(m, "extranonce2_size", arr[1])
	if err != nil {
		return err
	}
	if size < MinExtranonce2Size || size > MaxExtranonce2Size {
		return perr(m, "extranonce2_size", "%d outside %d..%d", size, MinExtranonce2Size, MaxExtranonce2Size)
	}
	s.Extranonce2Size = int(size)
	*p = s
	return nil
}

// ---- client.reconnect ----

// Reconnect is the params of client.reconnect: [host?, port?, wait_s?].
// An empty Host and zero Port mean "the same server". The port may be a
// number or a string on the wire.
type Reconnect struct {
	Host string
	Port int
	Wait time.Duration
}

// MarshalJSON encodes [host, port, wait] ([] when all are zero).
func (p Reconnect) MarshalJSON() ([]byte, error) {
	if p.Host == "" && p.Port == 0 && p.Wait == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]any{p.Host, p.Port, int64(p.Wait / time.Second)})
}

// UnmarshalJSON decodes the params array.
func (p *Reconnect) UnmarshalJSON(b []byte) error {
	const m = MethodReconnect
	arr, err := params(m, b, 0, 3)
	if err != nil {
		return err
	}
	var r Reconnect
	if len(arr) > 0 {
		if r.Host, err = optStr(m, "host", arr[0]); err != nil {
			return err
		}
	}
	if len(arr) > 1 && !isNull(arr[1]) {
		port, err := integer(m, "port", arr[1])
		if err != nil {
			return err
		}
		if port < 0 || port > 65535 {
			return perr(m, "port", "%d outside 0..65535", port)
		}
		r.Port = int(port)
	}
	if len(arr) > 2 && !isNull(arr[2]) {
		w, err := integer(m, "wait", arr[2])
		if err != nil {
			return err
		}
		if w < 0 || w > 24*3600 {
			return perr(m, "wait", "%d s outside 0..86400", w)
		}
		r.Wait = time.Duration(w) * time.Second
	}
	*p = r
	return nil
}

// ---- client.show_message ----

// ShowMessage is the params of client.show_message: [text].
type ShowMessage struct {
	Text string
}

// MarshalJSON encodes [text].
func (p ShowMessage) MarshalJSON() ([]byte, error) { return json.Marshal([]string{p.Text}) }

// UnmarshalJSON decodes the params array.
func (p *ShowMessage) UnmarshalJSON(b []byte) error {
	arr, err := params(MethodShowMessage, b, 1, 1)
	if err != nil {
		return err
	}
	p.Text, err = str(MethodShowMessage, "text", arr[0])
	return err
}

// ---- mining.get_transactions ----

// GetTransactions is the params of mining.get_transactions: [job_id].
type GetTransactions struct {
	JobID string
}

// MarshalJSON encodes [job_id].
func (p GetTransactions) MarshalJSON() ([]byte, error) { return json.Marshal([]string{p.JobID}) }

// UnmarshalJSON decodes the params array.
func (p *GetTransactions) UnmarshalJSON(b []byte) error {
	arr, err := params(MethodGetTransactions, b, 1, 1)
	if err != nil {
		return err
	}
	p.JobID, err = str(MethodGetTransactions, "job_id", arr[0])
	return err
}

// NoParams checks that a method taking no parameters (extranonce.subscribe,
// client.get_version, mining.ping) got an empty or null params array.
// Extra entries are tolerated; a non-array is not.
func NoParams(method string, raw json.RawMessage) error {
	_, err := params(method, raw, 0, -1)
	return err
}
