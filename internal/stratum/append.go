package stratum

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// NotifyBody is a mining.notify encoded once for many sessions: every
// parameter but the job id and clean_jobs, which AppendLine adds per
// session. A server builds one per job and appends one line per session,
// so a broadcast costs one copy per session. It is immutable and safe for
// concurrent use.
type NotifyBody struct {
	mid []byte // ,"prevhash","coinb1","coinb2",[branch],"version","nbits","ntime",
}

// NewNotifyBody encodes n's job-wide parameters; n.JobID and n.Clean are
// ignored. The bytes equal what encoding/json writes for the same Notify.
func NewNotifyBody(n *Notify) NotifyBody {
	b := make([]byte, 0, 2*(32+len(n.Coinb1)+len(n.Coinb2)+32*len(n.Branch))+4*len(n.Branch)+64)
	prev := swapWords(n.PrevHash)
	b = append(b, `,"`...)
	b = hex.AppendEncode(b, prev[:])
	b = append(b, `","`...)
	b = hex.AppendEncode(b, n.Coinb1)
	b = append(b, `","`...)
	b = hex.AppendEncode(b, n.Coinb2)
	b = append(b, `",[`...)
	for i := range n.Branch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, n.Branch[i][:])
		b = append(b, '"')
	}
	b = append(b, "],"...)
	for _, v := range [3]uint32{n.Version, n.NBits, n.NTime} {
		b = append(b, '"')
		b = appendHexU32(b, v)
		b = append(b, `",`...)
	}
	return NotifyBody{mid: b}
}

const notifyHead = `{"id":null,"method":"mining.notify","params":[`

// LineLen is the length of AppendLine's line for a job id of n bytes that
// need no JSON escaping (a capacity hint: one allocation per line).
func (nb NotifyBody) LineLen(n int) int {
	return len(notifyHead) + n + 2 + len(nb.mid) + len("false]}\n")
}

// AppendLine appends the complete mining.notify line (with its '\n') for
// one session's job id and clean flag to dst.
func (nb NotifyBody) AppendLine(dst []byte, jobID string, clean bool) []byte {
	dst = append(dst, notifyHead...)
	dst = appendJSONString(dst, jobID)
	dst = append(dst, nb.mid...)
	dst = strconv.AppendBool(dst, clean)
	return append(dst, "]}\n"...)
}

// AppendSetDifficulty appends a mining.set_difficulty line (with its '\n')
// for diff to dst.
func AppendSetDifficulty(dst []byte, diff float64) []byte {
	dst = append(dst, `{"id":null,"method":"mining.set_difficulty","params":[`...)
	dst = strconv.AppendFloat(dst, diff, 'g', -1, 64)
	return append(dst, "]}\n"...)
}

// EncodeNotification returns the notification (id null) of method with
// params (one of the typed params) as one line ending in '\n'.
func EncodeNotification(method string, params any) ([]byte, error) {
	req, err := NewNotification(method, params)
	if err != nil {
		return nil, err
	}
	return Encode(req)
}

const hexDigits = "0123456789abcdef"

// appendHexU32 appends v as 8 lower-case hex digits, big-endian.
func appendHexU32(b []byte, v uint32) []byte {
	for s := 28; s >= 0; s -= 4 {
		b = append(b, hexDigits[v>>uint(s)&0xf])
	}
	return b
}

// appendJSONString appends s as a JSON string, byte for byte as
// encoding/json writes it: plain printable ASCII is copied, anything else
// goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
