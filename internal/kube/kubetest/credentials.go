package kubetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// UserConfig returns a config that authenticates as user in groups with a
// client certificate signed by the cluster's CA. It has no rights beyond
// what RBAC grants user, its groups and system:authenticated.
func (c *Cluster) UserConfig(t testing.TB, user string, groups ...string) *rest.Config {
	t.Helper()
	cert, key, err := c.pki.client(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return c.config(rest.TLSClientConfig{CertData: cert, KeyData: key})
}

// tokenSeconds is how long a ServiceAccountConfig token is valid: longer
// than any test.
const tokenSeconds = 6 * 3600

// ServiceAccountConfig returns a config that authenticates as ServiceAccount
// namespace/name (user system:serviceaccount:namespace:name), with a bound
// token from the TokenRequest API, as a Pod of that ServiceAccount would
// get. The ServiceAccount must exist.
func (c *Cluster) ServiceAccountConfig(t testing.TB, namespace, name string) *rest.Config {
	t.Helper()
	exp := int64(tokenSeconds)
	tr, err := c.Clientset(t).CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: token for ServiceAccount %s/%s: %v", namespace, name, err)
	}
	cfg := c.config(rest.TLSClientConfig{})
	cfg.BearerToken = tr.Status.Token
	return cfg
}

var kubeconfigs atomic.Int64

// Kubeconfig writes cfg (from Admin, UserConfig or ServiceAccountConfig) as
// a kubeconfig file (mode 0600, in the cluster's temporary folder) and
// returns its path: for a process under test (`--kubeconfig`) or kubectl.
func (c *Cluster) Kubeconfig(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	p := c.path(fmt.Sprintf("kubeconfig-%d", kubeconfigs.Add(1)))
	if err := writeKubeconfig(p, cfg); err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	return p
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["kubetest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest"}
	kc.CurrentContext = "kubetest"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}

// startControllerManager runs kube-controller-manager as a cluster
// administrator (no per-controller credentials: fewer moving parts) and
// waits until the ServiceAccount controller has made default/default.
func (c *Cluster) startControllerManager(t testing.TB, bin string, controllers []string) {
	t.Helper()
	cert, key, err := c.pki.client("system:kube-controller-manager", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	kc := c.path("controller-manager.kubeconfig")
	if err := writeKubeconfig(kc, c.config(rest.TLSClientConfig{CertData: cert, KeyData: key})); err != nil {
		t.Fatal(err)
	}
	c.cm = &proc{name: "kube-controller-manager", path: bin, log: c.path("kube-controller-manager.log"), args: []string{
		"--kubeconfig=" + kc,
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		// A node whose kubelet stops reporting is NotReady (and its Pods
		// not Ready) after 30 s, not the default 50 s: StopKubelet.
		"--node-monitor-grace-period=30s",
		"--secure-port=0", // nothing to serve: health is read through the API
		"--service-account-private-key-file=" + c.path("sa.key"),
		"--root-ca-file=" + c.path("ca.crt"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--cert-dir=" + c.path("controller-manager-certs"),
	}}
	c.procs = append(c.procs, c.cm)
	if err := c.cm.start(); err != nil {
		t.Fatal(err)
	}
	cs := c.Clientset(t)
	c.waitFor(t, "the default ServiceAccount (kube-controller-manager)", func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}, c.etcd, c.api, c.cm)
}

// ControllerManagerLog returns the path of kube-controller-manager's log
// ("" when it does not run), for tests that look for what it did.
func (c *Cluster) ControllerManagerLog() string {
	if c.cm == nil {
		return ""
	}
	return c.cm.log
}

// Dir returns the cluster's temporary folder (logs, kubeconfigs,
// certificates); it is removed when the test ends.
func (c *Cluster) Dir() string { return c.dir }

func (c *Cluster) ensureDefaultServiceAccount(t testing.TB, cs kubernetes.Interface, namespace string) {
	t.Helper()
	if c.cm != nil {
		c.waitFor(t, "the default ServiceAccount of "+namespace, func(ctx context.Context) error {
			_, err := cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
			return err
		}, c.etcd, c.api, c.cm)
		return
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("kubetest: default ServiceAccount of %s: %v", namespace, err)
	}
}
