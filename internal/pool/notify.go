package pool

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/hashfleet/hashfleet/internal/btc"
	"github.com/hashfleet/hashfleet/internal/job"
)

// encodeNotifyParams encodes the session-independent mining.notify
// parameters of j (prevhash, coinb1, coinb2, merkle branch, version, nbits,
// ntime), each preceded by a comma, so a session only adds its job id and
// clean flag. All values are hex strings, so no JSON escaping is needed.
func encodeNotifyParams(j *job.Job) []byte {
	n := 32 + 2*len(j.Coinb1) + 2*len(j.Coinb2) + 70*len(j.Branch) + 80
	b := make([]byte, 0, n)
	b = append(b, `,"`...)
	b = append(b, btc.StratumPrevHash(j.PrevHash)...)
	b = append(b, `","`...)
	b = hex.AppendEncode(b, j.Coinb1)
	b = append(b, `","`...)
	b = hex.AppendEncode(b, j.Coinb2)
	b = append(b, `",[`...)
	for i, h := range j.Branch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, h[:])
		b = append(b, '"')
	}
	b = append(b, "],"...)
	b = fmt.Appendf(b, `"%08x","%08x","%08x"`, j.Version, j.Bits, j.Time)
	return b
}

// notifyLine builds one session's mining.notify line.
func notifyLine(sid string, params []byte, clean bool) []byte {
	b := make([]byte, 0, len(params)+80)
	b = append(b, `{"id":null,"method":"mining.notify","params":["`...)
	b = append(b, sid...)
	b = append(b, '"')
	b = append(b, params...)
	b = append(b, ',')
	b = strconv.AppendBool(b, clean)
	b = append(b, "]}\n"...)
	return b
}

// setDifficultyLine builds a mining.set_difficulty line.
func setDifficultyLine(diff float64) []byte {
	b := make([]byte, 0, 64)
	b = append(b, `{"id":null,"method":"mining.set_difficulty","params":[`...)
	b = strconv.AppendFloat(b, diff, 'g', -1, 64)
	b = append(b, "]}\n"...)
	return b
}
