//go:build capture

package chain_test

// This file regenerates testdata/btcd_*.json from a real btcd --regtest:
//
//	go test -tags capture -run TestCaptureBtcd ./internal/chain
//
// Each file holds the raw HTTP body btcd answered and its status code.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/node/nodetest"
)

type captured struct {
	Request string          `json:"request"`
	Status  int             `json:"status"`
	Body    json.RawMessage `json:"body,omitempty"`
	RawBody string          `json:"raw_body,omitempty"` // when the body is not JSON
}

func capture(t *testing.T, n *nodetest.RPCNode, name, body string, user, pass string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, reply, err := n.Post(ctx, []byte(body), user, pass)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := captured{Request: body, Status: status}
	if json.Valid(reply) {
		c.Body = reply
	} else {
		c.RawBody = string(reply)
	}
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", name+".json"), append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return reply
}

func TestCaptureBtcd(t *testing.T) {
	n := nodetest.StartBtcd(t)
	w := nodetest.NewWalletWithKey(t, n, nodetest.DefaultKey())
	w.Fund(t)
	gbt := `{"jsonrpc":"1.0","id":1,"method":"getblocktemplate","params":[{"rules":["segwit"],"capabilities":["coinbasevalue","longpoll","proposal"]}]}`
	capture(t, n, "btcd_gbt_empty", gbt, n.User, n.Password)

	txs := w.SendTxs(t, 5)
	t.Logf("sent %d txs", len(txs))
	capture(t, n, "btcd_gbt_mixed_txs", gbt, n.User, n.Password)
	blk := w.MineBlock(t)

	hash := blk.BlockHash().String()
	capture(t, n, "btcd_submitblock_duplicate", fmt.Sprintf(`{"jsonrpc":"1.0","id":2,"method":"submitblock","params":[%q]}`, nodetest.BlockHex(blk)), n.User, n.Password)
	capture(t, n, "btcd_submitblock_badhex", `{"jsonrpc":"1.0","id":3,"method":"submitblock","params":["00zz"]}`, n.User, n.Password)
	capture(t, n, "btcd_getblockchaininfo", `{"jsonrpc":"1.0","id":4,"method":"getblockchaininfo","params":[]}`, n.User, n.Password)
	capture(t, n, "btcd_getbestblockhash", `{"jsonrpc":"1.0","id":5,"method":"getbestblockhash","params":[]}`, n.User, n.Password)
	capture(t, n, "btcd_getblockheader", fmt.Sprintf(`{"jsonrpc":"1.0","id":6,"method":"getblockheader","params":[%q,true]}`, hash), n.User, n.Password)
	capture(t, n, "btcd_getblockheader_unknown", `{"jsonrpc":"1.0","id":7,"method":"getblockheader","params":["00000000000000000000000000000000000000000000000000000000000000aa",true]}`, n.User, n.Password)
	capture(t, n, "btcd_method_not_found", `{"jsonrpc":"1.0","id":8,"method":"generatetoaddress","params":[1,"x"]}`, n.User, n.Password)
	capture(t, n, "btcd_unauthorized", `{"jsonrpc":"1.0","id":9,"method":"getbestblockhash","params":[]}`, n.User, "wrong-password")

}
