package kube

import (
	"strings"
	"testing"
)

func TestWorkerDialAddress(t *testing.T) {
	tests := []struct {
		name      string
		dialPodIP bool
		serverIP  string
		want      string
	}{
		{name: "service", want: "stratum+tcp://fleet.mining.svc:3333"},
		{name: "service even with an IP known", serverIP: "10.1.2.3", want: "stratum+tcp://fleet.mining.svc:3333"},
		{name: "pod IP", dialPodIP: true, serverIP: "10.1.2.3", want: "stratum+tcp://10.1.2.3:3333"},
		{name: "pod IP v6", dialPodIP: true, serverIP: "fd00::3", want: "stratum+tcp://[fd00::3]:3333"},
		{name: "pod IP unknown: the service", dialPodIP: true, want: "stratum+tcp://fleet.mining.svc:3333"},
	}
	for _, tt := range tests {
		cfg := Config{Name: "fleet", Namespace: "mining", Image: "i", DialPodIP: tt.dialPodIP}
		p := cfg.workerPod(Create{Role: RoleWorker, Name: "fleet-worker-x1", CPUs: 2, ServerUID: "u", ServerIP: tt.serverIP})
		args := strings.Join(p.Spec.Containers[0].Args, " ")
		if !strings.Contains(args, "-o "+tt.want+" ") {
			t.Errorf("%s: worker args %q, want -o %s", tt.name, args, tt.want)
		}
		if lim := p.Spec.Containers[0].Resources.Limits.Cpu().String(); lim != "2" {
			t.Errorf("%s: cpu limit %s, want 2 (the worker's size)", tt.name, lim)
		}
	}
}
