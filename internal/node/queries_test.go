package node_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

// TestQueriesAgree makes the same chain queries on both nodes after they
// hold the same chain and mempool: every field both answers carry agrees,
// except where btcd is known to differ from Bitcoin Core.
func TestQueriesAgree(t *testing.T) {
	e, b := nodetest.StartEmbedded(t), nodetest.StartBtcd(t)
	w := nodetest.NewWallet(t, e)
	w.Fund(t)
	w.SendTxs(t, 4)
	w.MineBlock(t)
	e.Generate(t, 3, "")
	syncTo(t, e, b)
	for _, tx := range w.SendTxs(t, 2) {
		b.MustCall(t, "sendrawtransaction", nodetest.TxHex(tx))
	}
	mid := func(n *nodetest.RPCNode) string {
		var h string
		n.MustDecode(t, &h, "getblockhash", 102)
		return h
	}(e)
	tip := e.BestBlockHash(t)

	// btcd differences from Core, allowed here; the embedded node follows Core.
	known := map[string]string{
		"getblockchaininfo.warnings": "btcd: string; Core 28+: array",
		"getmininginfo.warnings":     "btcd: string; Core 28+: array",
		"*.difficulty":               "btcd: relative to the chain's pow limit (1 on regtest); Core: relative to 0x1d00ffff",
	}
	calls := []struct {
		name   string
		method string
		params []any
	}{
		{name: "getblockcount", method: "getblockcount"},
		{name: "getbestblockhash", method: "getbestblockhash"},
		{name: "getblockhash", method: "getblockhash", params: []any{102}},
		{name: "getblock0", method: "getblock", params: []any{mid, 0}},
		{name: "getblock1", method: "getblock", params: []any{mid, 1}},
		{name: "getblock1tip", method: "getblock", params: []any{tip, 1}},
		{name: "getblockheader", method: "getblockheader", params: []any{mid}},
		{name: "getblockheader0", method: "getblockheader", params: []any{mid, false}},
		{name: "getblockchaininfo", method: "getblockchaininfo"},
		{name: "getmininginfo", method: "getmininginfo"},
		{name: "getrawmempool", method: "getrawmempool"},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			re, rb := e.MustCall(t, c.method, c.params...), b.MustCall(t, c.method, c.params...)
			var oe, ob map[string]json.RawMessage
			if json.Unmarshal(re, &oe) != nil || json.Unmarshal(rb, &ob) != nil {
				if c.method == "getrawmempool" {
					var le, lb []string
					json.Unmarshal(re, &le)
					json.Unmarshal(rb, &lb)
					slices.Sort(le)
					slices.Sort(lb)
					if !slices.Equal(le, lb) || len(le) != 2 {
						t.Errorf("mempool: embedded %v, btcd %v", le, lb)
					}
					return
				}
				if string(re) != string(rb) {
					t.Errorf("embedded %s, btcd %s", re, rb)
				}
				return
			}
			for k, ve := range oe {
				vb, ok := ob[k]
				if !ok {
					continue // Core field btcd lacks
				}
				why, skip := known[c.method+"."+k]
				if !skip {
					why, skip = known["*."+k]
				}
				if skip {
					t.Logf("%s: embedded %s, btcd %s (%s)", k, ve, vb, why)
					continue
				}
				if !jsonEqual(ve, vb) {
					t.Errorf("%s: embedded %s, btcd %s", k, ve, vb)
				}
			}
			for k := range ob {
				if _, ok := oe[k]; !ok {
					t.Logf("btcd-only field %s = %s", k, ob[k])
				}
			}
			if c.method == "getblockchaininfo" {
				var ce, cb string
				json.Unmarshal(oe["chainwork"], &ce)
				json.Unmarshal(ob["chainwork"], &cb)
				if cb != "" && fmt.Sprintf("%064s", cb) != ce {
					t.Errorf("chainwork: embedded %s, btcd %s", ce, cb)
				}
			}
		})
	}
}

// jsonEqual compares two JSON values semantically (numbers by value).
func jsonEqual(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return string(a) == string(b)
	}
	return fmt.Sprint(va) == fmt.Sprint(vb)
}
