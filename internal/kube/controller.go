package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Controller runs the fleet on Kubernetes: it drives State from informers
// and carries out its plans with the typed client. Run owns everything;
// Status and the HTTP handlers may be called from any goroutine.
type Controller struct {
	cfg         Config
	log         *slog.Logger
	m           *metrics
	broadcaster record.EventBroadcaster
	rec         record.EventRecorder
	kick        chan struct{} // informer changes; buffered(1), coalesced
	svc         *corev1.Service

	mu     sync.Mutex // guards status
	status Status
}

// New returns a Controller for cfg.
func New(cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := record.NewBroadcaster()
	c := &Controller{
		cfg: cfg, log: cfg.Logger, m: newMetrics(cfg.Registerer), broadcaster: b,
		rec:  b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: ManagedBy, Host: cfg.Identity}),
		kick: make(chan struct{}, 1),
	}
	c.status = Status{Backend: "kubernetes", Namespace: cfg.Namespace, Identity: cfg.Identity, ServerAddr: cfg.serviceAddr()}
	return c, nil
}

// Run runs the controller until ctx is cancelled (nil) or, with leader
// election, until the Lease is lost (an error: the process should exit
// and be restarted, as Kubernetes controllers do).
func (c *Controller) Run(ctx context.Context) error {
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.cfg.Client.CoreV1().Events(c.cfg.Namespace)})
	defer c.broadcaster.Shutdown()
	if !c.cfg.LeaderElection {
		c.setLeader(c.cfg.Identity)
		return c.lead(ctx)
	}
	return c.elect(ctx)
}

func (c *Controller) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// listers are the informers' caches Reconcile reads.
type listers struct {
	pods  listerscorev1.PodLister // the fleet's (namespace and label filtered)
	all   listerscorev1.PodLister // every non-terminal pod, slimmed (node requests)
	nodes listerscorev1.NodeLister
}

// lead runs the informers and the reconcile loop until ctx ends.
func (c *Controller) lead(ctx context.Context) error {
	cl := c.cfg.Client
	ours := informers.NewSharedInformerFactoryWithOptions(cl, c.cfg.Resync, informers.WithNamespace(c.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = c.cfg.selector() }))
	all := informers.NewSharedInformerFactoryWithOptions(cl, c.cfg.Resync, informers.WithTransform(slimPod),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "status.phase!=Succeeded,status.phase!=Failed" }))
	cluster := informers.NewSharedInformerFactory(cl, c.cfg.Resync)
	l := listers{pods: ours.Core().V1().Pods().Lister(), all: all.Core().V1().Pods().Lister(), nodes: cluster.Core().V1().Nodes().Lister()}
	infs := map[string]cache.SharedIndexInformer{
		"pods": ours.Core().V1().Pods().Informer(), "all-pods": all.Core().V1().Pods().Informer(), "nodes": cluster.Core().V1().Nodes().Informer(),
	}
	var synced []cache.InformerSynced
	for name, inf := range infs {
		kick := func(any) { c.poke() }
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: kick, DeleteFunc: kick,
			UpdateFunc: func(_, o any) { c.poke() }}); err != nil {
			return fmt.Errorf("kube: %s informer: %w", name, err)
		}
		_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
			cache.DefaultWatchErrorHandler(ctx, r, err)
			c.noteErr("watch "+name, err)
		})
		synced = append(synced, inf.HasSynced)
	}
	factories := []informers.SharedInformerFactory{ours, all, cluster}
	defer func() {
		for _, f := range factories {
			f.Shutdown()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, f := range factories {
		f.Start(ctx.Done())
	}
	c.log.Info("kube: waiting for the informers", "namespace", c.cfg.Namespace, "selector", c.cfg.selector())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil // ctx ended
	}
	c.log.Info("kube: informers synced; reconciling")
	c.setSynced()
	st := NewState(Policy{Policy: c.cfg.Policy, ServerName: c.cfg.serverName(), WorkerPrefix: c.cfg.Name + "-worker-"})
	return c.loop(ctx, st, l)
}

// loop reconciles on every informer change, when the plan asks (backoff
// ends, delete retries), and every Resync.
func (c *Controller) loop(ctx context.Context, st *State, l listers) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var svcTried time.Time
	for {
		periodic := false
		select {
		case <-ctx.Done():
			return nil
		case <-c.kick:
		case <-timer.C:
			periodic = true
		}
		// Checked every Resync; while missing, at most every 10 s (a
		// refusal is logged each time, not on every informer event).
		if periodic && time.Since(svcTried) >= c.cfg.Resync || c.svc == nil && time.Since(svcTried) >= 10*time.Second {
			svcTried = time.Now()
			c.ensureService(ctx)
		}
		w, pods, err := c.observe(l)
		if err != nil {
			c.noteErr("list", err)
			timer.Reset(time.Second)
			continue
		}
		plan := st.Reconcile(w)
		c.execute(ctx, st, plan, pods)
		c.publish(st, w, pods)
		wait := c.cfg.Resync
		if plan.Requeue > 0 && plan.Requeue < wait {
			wait = plan.Requeue
		}
		timer.Reset(wait)
	}
}

// observe reads the informers' caches into a World, and the fleet's pods
// by name (for Events and the status).
func (c *Controller) observe(l listers) (World, map[string]*corev1.Pod, error) {
	w := World{Now: time.Now()}
	pods, err := l.pods.Pods(c.cfg.Namespace).List(labels.Everything())
	if err != nil {
		return w, nil, err
	}
	nodes, err := l.nodes.List(labels.Everything())
	if err != nil {
		return w, nil, err
	}
	all, err := l.all.List(labels.Everything())
	if err != nil {
		return w, nil, err
	}
	byName := make(map[string]*corev1.Pod, len(pods))
	for _, p := range pods {
		byName[p.Name] = p
		w.Pods = append(w.Pods, podView(p))
	}
	w.Nodes = nodeViews(nodes, all)
	return w, byName, nil
}

// execute carries out plan: events, deletes, creates (each create's
// outcome goes back to st).
func (c *Controller) execute(ctx context.Context, st *State, plan Plan, pods map[string]*corev1.Pod) {
	for _, e := range plan.Events {
		c.event(e, pods)
	}
	for _, d := range plan.Deletes {
		c.deletePod(ctx, d)
	}
	for _, cr := range plan.Creates {
		c.createPod(ctx, st, cr)
	}
}

// event records e on its pod (or the Service) and logs it.
func (c *Controller) event(e Event, pods map[string]*corev1.Pod) {
	var obj runtime.Object = c.serviceRef()
	if p, ok := pods[e.Pod]; ok && e.Pod != "" {
		obj = p
	}
	typ, lvl := corev1.EventTypeNormal, slog.LevelInfo
	if e.Warning {
		typ, lvl = corev1.EventTypeWarning, slog.LevelWarn
	}
	c.rec.Event(obj, typ, e.Reason, e.Message)
	c.m.events.WithLabelValues(e.Reason).Inc()
	c.log.Log(context.Background(), lvl, "kube: "+e.Message, "reason", e.Reason, "pod", e.Pod)
}

func (c *Controller) serviceRef() runtime.Object {
	if c.svc != nil {
		return c.svc
	}
	return &corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: c.cfg.Namespace, Name: c.cfg.Name}
}

func (c *Controller) deletePod(ctx context.Context, d Delete) {
	uid := types.UID(d.UID)
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	if d.Force {
		opts.GracePeriodSeconds = new(int64(0))
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	err := c.cfg.Client.CoreV1().Pods(c.cfg.Namespace).Delete(cctx, d.Name, opts)
	switch {
	case err == nil:
		c.m.kills.Inc()
		c.log.Info("kube: deleted pod", "pod", d.Name, "role", d.Role, "force", d.Force, "why", d.Reason)
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		c.log.Debug("kube: pod already gone", "pod", d.Name)
	default:
		c.noteErr("delete", err)
		c.log.Warn("kube: deleting pod failed; retrying", "pod", d.Name, "err", explain(err, "delete", "pods", c.cfg.Namespace))
	}
}

func (c *Controller) createPod(ctx context.Context, st *State, cr Create) {
	pod := c.cfg.serverPod()
	if cr.Role == RoleWorker {
		pod = c.cfg.workerPod(cr)
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	_, err := c.cfg.Client.CoreV1().Pods(c.cfg.Namespace).Create(cctx, pod, metav1.CreateOptions{FieldManager: ManagedBy})
	switch {
	case err == nil:
		st.Created(cr, time.Now())
		c.m.launches.WithLabelValues(string(cr.Role)).Inc()
		c.log.Info("kube: created pod", "pod", cr.Name, "role", cr.Role, "cpus", pod.Spec.Containers[0].Resources.Requests.Cpu().String())
	case apierrors.IsAlreadyExists(err):
		st.Created(cr, time.Now()) // the informer will show it
	default:
		msg := explain(err, "create", "pods", c.cfg.Namespace)
		c.noteErr("create", errors.New(msg))
		c.event(st.CreateFailed(cr, msg, time.Now()), nil)
	}
}

// ensureService creates the Service if it is missing.
func (c *Controller) ensureService(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	svcs := c.cfg.Client.CoreV1().Services(c.cfg.Namespace)
	svc, err := svcs.Get(cctx, c.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc, err = svcs.Create(cctx, c.cfg.service(), metav1.CreateOptions{FieldManager: ManagedBy})
		if err == nil {
			c.log.Info("kube: created the Service", "service", c.cfg.Name, "stratum", c.cfg.serviceAddr())
		}
	}
	if err != nil {
		c.noteErr("service", err)
		c.log.Error("kube: the Service "+c.cfg.Name+" is not available", "err", explain(err, "get/create", "services", c.cfg.Namespace))
		return
	}
	c.svc = svc
}

// explain adds what an operator does about the usual API errors.
func explain(err error, verb, resource, ns string) string {
	var hint string
	var se *apierrors.StatusError
	switch {
	case apierrors.IsForbidden(err):
		hint = fmt.Sprintf(" (RBAC: the controller's ServiceAccount needs %s on %s in namespace %s; see deploy/kubernetes/rbac.yaml)", verb, resource, ns)
	case apierrors.IsNotFound(err) && errors.As(err, &se) && se.ErrStatus.Details != nil && se.ErrStatus.Details.Kind == "namespaces":
		hint = fmt.Sprintf(" (namespace %s does not exist: create it, or pass --namespace)", ns)
	}
	return err.Error() + hint
}
