package kubetest_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/hashfleet/hashfleet/internal/kube/kubetest"
)

func TestExploreKubelet(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	c := kubetest.Start(t, kubetest.Options{ControllerManager: true})
	exec.Command("cp", c.Kubeconfig(t, c.Admin()), "/tmp/kl/admin.kubeconfig").Run()
	exec.Command("cp", c.Kubeconfig(t, c.UserConfig(t, "system:node:kl1", "system:nodes")), "/tmp/kl/node.kubeconfig").Run()
	exec.Command("cp", c.Dir()+"/ca.crt", "/tmp/kl/ca.crt").Run()
	os.WriteFile("/tmp/kl/ready", nil, 0o644)
	for {
		if _, err := os.Stat("/tmp/kl/stop"); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
}
