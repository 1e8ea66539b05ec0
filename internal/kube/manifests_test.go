package kube

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

const manifestDir = "../../deploy/kubernetes"

// decodeFile decodes every document of a manifest with client-go's scheme.
func decodeFile(t *testing.T, path string) []runtime.Object {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// manifests decodes the kustomization's resources, in order.
func manifests(t *testing.T) []runtime.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifestDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.Namespace != "hashfleet" {
		t.Errorf("kustomization namespace %q, want hashfleet", k.Namespace)
	}
	var objs []runtime.Object
	for _, r := range k.Resources {
		objs = append(objs, decodeFile(t, filepath.Join(manifestDir, r))...)
	}
	return objs
}

func TestManifestsParse(t *testing.T) {
	objs := manifests(t)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	for _, want := range []string{"Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("manifests have no %s (kinds: %v)", want, kinds)
		}
	}
	for _, o := range objs {
		d, ok := o.(*appsv1.Deployment)
		if !ok || d.Name != "hashfleet-controller" {
			continue
		}
		spec := d.Spec.Template.Spec
		args := strings.Join(spec.Containers[0].Args, " ")
		if spec.ServiceAccountName != "hashfleet-controller" || !strings.Contains(args, "--backend=kubernetes") || !strings.Contains(args, "--rpc-secret=hashfleet-rpc") {
			t.Errorf("controller Deployment: service account %q args %q, want hashfleet-controller, --backend=kubernetes, --rpc-secret", spec.ServiceAccountName, args)
		}
		if strings.Contains(strings.ToLower(args), "password") {
			t.Errorf("controller args %q mention a password", args)
		}
	}
	// The Secret is an example outside the kustomization, holding no secret.
	ex := decodeFile(t, filepath.Join(manifestDir, "rpc-secret.example.yaml"))
	s, ok := ex[0].(*corev1.Secret)
	if !ok || s.StringData["rpc-password"] != "REPLACE-ME" || len(s.Data) != 0 {
		t.Errorf("rpc-secret.example.yaml: %+v, want a Secret with the placeholder REPLACE-ME only", ex[0])
	}
}

// rbacRules returns the rules of the manifests' Role and ClusterRole.
func rbacRules(t *testing.T, objs []runtime.Object) (role, cluster []rbacv1.PolicyRule) {
	for _, o := range objs {
		switch r := o.(type) {
		case *rbacv1.Role:
			role = append(role, r.Rules...)
		case *rbacv1.ClusterRole:
			cluster = append(cluster, r.Rules...)
		}
	}
	if len(role) == 0 || len(cluster) == 0 {
		t.Fatal("the manifests have no Role or no ClusterRole")
	}
	return role, cluster
}
