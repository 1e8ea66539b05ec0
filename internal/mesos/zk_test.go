package mesos_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/mesos"
	"github.com/hashfleet/hashfleet/internal/mesos/zktest"
)

func TestParseZKURL(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		servers []string
		path    string
		auth    string
		wantErr bool
	}{
		{name: "one host", in: "zk://10.0.0.1:2181/mesos", servers: []string{"10.0.0.1:2181"}, path: "/mesos"},
		{name: "many hosts and default port", in: "zk://a:2181,b,c:2182/mesos/x", servers: []string{"a:2181", "b:2181", "c:2182"}, path: "/mesos/x"},
		{name: "auth", in: "zk://u:p@a:2181/mesos", servers: []string{"a:2181"}, path: "/mesos", auth: "u:p"},
		{name: "no scheme", in: "a:2181/mesos", wantErr: true},
		{name: "no path", in: "zk://a:2181", wantErr: true},
		{name: "no hosts", in: "zk:///mesos", wantErr: true},
		{name: "bad auth", in: "zk://u@a:2181/mesos", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := mesos.ParseZKURL(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want error", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(u.Servers) != len(tc.servers) || u.Path != tc.path || u.Auth != tc.auth {
				t.Fatalf("got %+v, want servers %v path %q auth %q", u, tc.servers, tc.path, tc.auth)
			}
			for i := range u.Servers {
				if u.Servers[i] != tc.servers[i] {
					t.Fatalf("server %d: got %q, want %q", i, u.Servers[i], tc.servers[i])
				}
			}
		})
	}
}

func TestLeaderNode(t *testing.T) {
	tests := []struct {
		name     string
		children []string
		want     string
		ok       bool
	}{
		{name: "none", children: nil},
		{name: "only other nodes", children: []string{"log_replicas", "info_0000000001"}},
		{name: "lowest wins", children: []string{"json.info_0000000012", "log_replicas", "json.info_0000000009", "json.info_0000000010"}, want: "json.info_0000000009", ok: true},
		{name: "bad sequence ignored", children: []string{"json.info_abc", "json.info_0000000003"}, want: "json.info_0000000003", ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mesos.LeaderNode(tc.children)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMasterAddress(t *testing.T) {
	tests := []struct {
		name string
		mi   mesos.MasterInfo
		want string
	}{
		{name: "address ip", mi: mesos.MasterInfo{Address: &mesos.Address{IP: "10.0.0.5", Hostname: "m1", Port: 5050}}, want: "10.0.0.5:5050"},
		{name: "address hostname", mi: mesos.MasterInfo{Address: &mesos.Address{Hostname: "m1", Port: 5051}}, want: "m1:5051"},
		{name: "packed ip", mi: mesos.MasterInfo{IP: 16777343, Port: 5050}, want: "127.0.0.1:5050"},
		{name: "pid", mi: mesos.MasterInfo{PID: "master@10.1.2.3:5050"}, want: "10.1.2.3:5050"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mesos.MasterAddress(tc.mi)
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
	if got := mesos.PackIP(net.ParseIP("127.0.0.1")); got != 16777343 {
		t.Fatalf("PackIP: got %d, want 16777343", got)
	}
}

// TestZKDetectorRealZooKeeper registers two masters the way Mesos
// contenders do and checks that the lowest sequence leads, and that the
// next one takes over when the leader's session ends.
func TestZKDetectorRealZooKeeper(t *testing.T) {
	addr := zktest.Start(t)
	u, err := mesos.ParseZKURL("zk://" + addr + "/hashfleet/mesos")
	if err != nil {
		t.Fatal(err)
	}
	det, err := mesos.NewZKDetector("zk://"+addr+"/hashfleet/mesos", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := det.Leader(ctx); !errors.Is(err, mesos.ErrNoLeader) {
		t.Fatalf("before any master: got %v, want ErrNoLeader", err)
	}

	c1, err := mesos.DialZK(u, 4*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	mi := func(ip string, port int32) mesos.MasterInfo {
		return mesos.MasterInfo{ID: ip, IP: mesos.PackIP(net.ParseIP(ip)), Port: uint32(port),
			Address: &mesos.Address{IP: ip, Hostname: "localhost", Port: port}, Version: "1.11.0"}
	}
	if _, err := mesos.RegisterMaster(c1, u.Path, mi("127.0.0.1", 5050)); err != nil {
		t.Fatal(err)
	}
	c2, err := mesos.DialZK(u, 4*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := mesos.RegisterMaster(c2, u.Path, mi("127.0.0.2", 5051)); err != nil {
		t.Fatal(err)
	}
	// A non-master child must be ignored.
	if err := mesos.EnsureZKPath(c2, u.Path+"/log_replicas"); err != nil {
		t.Fatal(err)
	}
	got, err := det.Leader(ctx)
	if err != nil || got != "127.0.0.1:5050" {
		t.Fatalf("leader: got %q %v, want 127.0.0.1:5050", got, err)
	}
	c1.Close() // leader's session ends: its ephemeral node goes away
	for {
		got, err = det.Leader(ctx)
		if err == nil && got == "127.0.0.2:5051" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after leader loss: got %q %v, want 127.0.0.2:5051", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
