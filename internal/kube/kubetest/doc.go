// Package kubetest runs a real Kubernetes control plane for tests: etcd and
// kube-apiserver (and, when asked, kube-controller-manager) as child
// processes on loopback, the binaries of the "kube" integration part
// (tools/kube/build.sh and Debian's etcd-server; see docs/testing.md).
//
// Start gives a test an admin *rest.Config (a client certificate in
// system:masters) and can mint restricted credentials — a client
// certificate for any user and groups (UserConfig), or a bound token for a
// ServiceAccount (ServiceAccountConfig) — so RBAC rules are checked by the
// real authorizer (--authorization-mode=Node,RBAC). Everything is
// generated per test: a CA, the serving certificate, the service-account
// signing key; ports come from internal/porttest and data lives in
// t.TempDir. Every process is stopped at t.Cleanup, and when the test has
// failed the tail of each log is written to the test output.
//
// By default there is no kubelet: nothing runs a Pod, and a test plays the
// kubelet with AddNode, RunPod and EndPod, which write the statuses a
// kubelet would. With Options.Kubelet (the "kubelet" part: root,
// containerd, runc, CNI plugins) a real node joins — a kubelet on a
// private containerd with its own CNI bridge, and kube-scheduler — and
// Pods really run; images are imported, never pulled (ImportImage,
// ImportDockerImage), and KillContainer crashes a container.
// StopAPIServer, StartAPIServer, RestartAPIServer, PauseAPIServer and
// ResumeAPIServer make the API server go away (connection refused, or a
// frozen process that accepts connections and answers nothing) and come
// back on the same address with the same data.
//
// A Cluster belongs to the test that started it; its methods are called
// from that test's goroutine (or its subtests), not concurrently.
package kubetest
