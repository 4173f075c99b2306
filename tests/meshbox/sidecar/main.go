// Command meshbox-sidecar poses as an Envoy sidecar: it opens one State-of-the-World ADS
// stream to istiod's plaintext xDS port, fetches CDS and LDS, then the RDS and EDS they name,
// ACKs every response and, once nothing new has arrived for --settle, prints one JSON object
// with every resource as Envoy's config_dump would show it.
//
// It is built inside each Istio release's source tree (scripts/install-istioctl-releases copies
// it to <tree>/meshbox-sidecar), so it uses that release's go-control-plane, grpc and protobuf.
// It must therefore compile from Istio 1.10 (go 1.16 language, go-control-plane v0.9.9) to 1.30:
// only the stable Envoy v3 packages, no generics, no istio pkg/adsc (its API changed).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	// istiod's xDS generators (the same path in every release): linking them links every type
	// istiod can put into a typed Any (Envoy's extensions, istio's own filters, udpa's
	// TypedStruct, ...), so that protojson can expand them. pkg/config/xds, istio's list of
	// Envoy filter types, lacks TypedStruct, which 1.30 sends for its stats filters.
	_ "istio.io/istio/pilot/pkg/xds"
)

const (
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	typeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeHCM      = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)

// watch is the client side of one resource type on the ADS stream.
type watch struct {
	short    string // CDS, LDS, RDS, EDS (for messages)
	url      string
	wildcard bool     // CDS and LDS: everything; RDS and EDS: names
	names    []string // the subscription of RDS and EDS, sorted
	version  string   // last accepted version_info, sent back in ACKs
	nonce    string   // nonce of the last response, sent back in ACKs and NACKs
	answered bool     // a response arrived
	byName   map[string]proto.Message
}

type nack struct {
	TypeURL string `json:"typeUrl"`
	Nonce   string `json:"nonce"`
	Error   string `json:"error"`
}

type client struct {
	stream       discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node         *core.Node
	cds, lds     *watch
	rds, eds     *watch
	controlPlane string
	nacks        []nack
	verbose      bool
}

func main() {
	fs := flag.NewFlagSet("meshbox-sidecar", flag.ExitOnError) // istio packages may own flag.CommandLine
	xds := fs.String("xds", "", "istiod's plaintext xDS address HOST:PORT (--grpcAddr; required)")
	nodeID := fs.String("node-id", "sidecar~10.0.0.1~client.default~default.svc.cluster.local", "Envoy node id")
	metadata := fs.String("metadata", "{}", "JSON object for Node.metadata (CLUSTER_ID, NAMESPACE, LABELS, ...)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	settle := fs.Duration("settle", time.Second, "once everything arrived, wait this long with nothing new")
	verbose := fs.Bool("v", false, "log every response to stderr")
	_ = fs.Parse(os.Args[1:])
	if *xds == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: meshbox-sidecar --xds HOST:PORT [--node-id ID] [--metadata JSON] [--timeout 60s] [--settle 1s]")
		os.Exit(2)
	}
	meta := &structpb.Struct{}
	if err := protojson.Unmarshal([]byte(*metadata), meta); err != nil {
		fail("--metadata is not a JSON object: %v", err)
	}
	out, err := run(*xds, &core.Node{Id: *nodeID, Metadata: meta}, *timeout, *settle, *verbose)
	if err != nil {
		fail("%v", err)
	}
	os.Stdout.Write(out)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "meshbox-sidecar: "+format+"\n", args...)
	os.Exit(1)
}

func run(addr string, node *core.Node, timeout, settle time.Duration, verbose bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20))) // a mesh's CDS can exceed 4 MiB
	if err != nil {
		return nil, fmt.Errorf("cannot dial %s: %v", addr, err)
	}
	defer conn.Close()
	// Without WaitForReady the stream fails at once with the dial error (e.g. connection refused).
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %s opening an ADS stream to %s", timeout, addr)
	} else if err != nil {
		return nil, fmt.Errorf("cannot open an ADS stream to %s: %v", addr, err)
	}
	c := &client{
		stream:  stream,
		node:    node,
		cds:     &watch{short: "CDS", url: typeCluster, wildcard: true, byName: map[string]proto.Message{}},
		lds:     &watch{short: "LDS", url: typeListener, wildcard: true, byName: map[string]proto.Message{}},
		rds:     &watch{short: "RDS", url: typeRoute, byName: map[string]proto.Message{}},
		eds:     &watch{short: "EDS", url: typeEndpoint, byName: map[string]proto.Message{}},
		verbose: verbose,
	}
	for _, w := range []*watch{c.cds, c.lds} {
		if err := c.send(w, ""); err != nil {
			return nil, fmt.Errorf("cannot send the %s request to %s: %v", w.short, addr, err)
		}
	}

	responses := make(chan *discovery.DiscoveryResponse)
	errs := make(chan error, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				errs <- err
				return
			}
			responses <- resp
		}
	}()

	timedOut := func() error {
		if c.missing() == "nothing" {
			return fmt.Errorf("timed out after %s: all arrived from %s, but news kept coming within --settle %s", timeout, addr, settle)
		}
		var nacked string
		for _, n := range c.nacks {
			nacked += fmt.Sprintf("; NACKed %s: %s", n.TypeURL, n.Error)
		}
		return fmt.Errorf("timed out after %s waiting for %s from %s%s", timeout, c.missing(), addr, nacked)
	}
	var settled <-chan time.Time // armed while everything requested has arrived
	for {
		select {
		case <-ctx.Done():
			return nil, timedOut()
		case err := <-errs:
			if ctx.Err() != nil {
				return nil, timedOut()
			}
			// istiod reports refusals (e.g. an unknown proxy) as the stream's gRPC status.
			return nil, fmt.Errorf("ADS stream from %s ended (still missing %s): %v", addr, c.missing(), err)
		case resp := <-responses:
			if err := c.handle(resp); err != nil {
				return nil, fmt.Errorf("cannot send to %s: %v", addr, err)
			}
			settled = nil
			if c.missing() == "nothing" {
				settled = time.After(settle)
			}
		case <-settled:
			return c.dump()
		}
	}
}

// send requests w's resources; errorDetail makes it a NACK of the last response.
func (c *client) send(w *watch, errorDetail string) error {
	req := &discovery.DiscoveryRequest{
		Node:          c.node, // istiod reads it from the first request; Envoy repeats it
		TypeUrl:       w.url,
		ResourceNames: w.names,
		VersionInfo:   w.version,
		ResponseNonce: w.nonce,
	}
	if errorDetail != "" {
		req.ErrorDetail = &rpcstatus.Status{Code: 3, Message: errorDetail} // INVALID_ARGUMENT, as Envoy sends
	}
	return c.stream.Send(req)
}

func (c *client) watchOf(url string) *watch {
	for _, w := range []*watch{c.cds, c.lds, c.rds, c.eds} {
		if w.url == url {
			return w
		}
	}
	return nil
}

// handle stores a response, ACKs (or NACKs) it, and follows CDS to EDS and LDS to RDS.
func (c *client) handle(resp *discovery.DiscoveryResponse) error {
	c.controlPlane = resp.GetControlPlane().GetIdentifier()
	w := c.watchOf(resp.GetTypeUrl())
	if c.verbose {
		fmt.Fprintf(os.Stderr, "meshbox-sidecar: %s version %s nonce %s: %d resources\n",
			resp.GetTypeUrl(), resp.GetVersionInfo(), resp.GetNonce(), len(resp.GetResources()))
	}
	if w == nil {
		return nil // a type this client never asked for: nothing to ACK
	}
	w.nonce = resp.GetNonce()
	decoded, err := decode(w, resp)
	if err != nil {
		c.nacks = append(c.nacks, nack{TypeURL: w.url, Nonce: w.nonce, Error: err.Error()})
		return c.send(w, err.Error())
	}
	w.answered = true
	w.version = resp.GetVersionInfo()
	if w.wildcard {
		w.byName = decoded // CDS and LDS responses are complete: absent means removed
	} else {
		for name, m := range decoded { // RDS and EDS responses may carry only what changed
			w.byName[name] = m
		}
	}
	if err := c.send(w, ""); err != nil {
		return err
	}
	switch w {
	case c.cds:
		return c.subscribe(c.eds, edsNames(c.cds.byName))
	case c.lds:
		return c.subscribe(c.rds, rdsNames(c.lds.byName))
	}
	return nil
}

// subscribe changes w's names; istiod answers a request whose names changed even if it
// carries the last nonce (and our later ACKs repeat the names if it was ignored meanwhile).
func (c *client) subscribe(w *watch, names []string) error {
	if len(names) == 0 || strings.Join(names, "\n") == strings.Join(w.names, "\n") {
		return nil // an empty list would mean "everything" to xDS
	}
	w.names = names
	keep := map[string]proto.Message{}
	for _, n := range names {
		if m, ok := w.byName[n]; ok {
			keep[n] = m
		}
	}
	w.byName = keep
	return c.send(w, "")
}

func decode(w *watch, resp *discovery.DiscoveryResponse) (map[string]proto.Message, error) {
	decoded := map[string]proto.Message{}
	for _, r := range resp.GetResources() {
		if r.GetTypeUrl() != w.url {
			return nil, fmt.Errorf("%s response holds a %s", w.short, r.GetTypeUrl())
		}
		var m proto.Message
		switch w.url {
		case typeCluster:
			m = &cluster.Cluster{}
		case typeListener:
			m = &listener.Listener{}
		case typeRoute:
			m = &route.RouteConfiguration{}
		case typeEndpoint:
			m = &endpoint.ClusterLoadAssignment{}
		}
		if err := proto.Unmarshal(r.GetValue(), m); err != nil {
			return nil, fmt.Errorf("cannot decode a %s: %v", w.url, err)
		}
		decoded[resourceName(m)] = m
	}
	return decoded, nil
}

func resourceName(m proto.Message) string {
	switch r := m.(type) {
	case *cluster.Cluster:
		return r.GetName()
	case *listener.Listener:
		return r.GetName()
	case *route.RouteConfiguration:
		return r.GetName()
	case *endpoint.ClusterLoadAssignment:
		return r.GetClusterName()
	}
	return ""
}

// edsNames: the EDS service names of the EDS clusters, as Envoy requests them.
func edsNames(clusters map[string]proto.Message) []string {
	set := map[string]bool{}
	for name, m := range clusters {
		c := m.(*cluster.Cluster)
		if c.GetType() != cluster.Cluster_EDS {
			continue
		}
		if s := c.GetEdsClusterConfig().GetServiceName(); s != "" {
			name = s
		}
		set[name] = true
	}
	return sorted(set)
}

// rdsNames: the route configurations the listeners' HTTP connection managers load by RDS.
func rdsNames(listeners map[string]proto.Message) []string {
	set := map[string]bool{}
	for _, m := range listeners {
		l := m.(*listener.Listener)
		chains := l.GetFilterChains()
		if d := l.GetDefaultFilterChain(); d != nil {
			chains = append(chains, d)
		}
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				if f.GetTypedConfig().GetTypeUrl() != typeHCM {
					continue
				}
				h := &hcm.HttpConnectionManager{}
				if proto.Unmarshal(f.GetTypedConfig().GetValue(), h) == nil && h.GetRds() != nil {
					set[h.GetRds().GetRouteConfigName()] = true
				}
			}
		}
	}
	return sorted(set)
}

// missing says what has not arrived yet ("nothing" when complete).
func (c *client) missing() string {
	var parts []string
	for _, w := range []*watch{c.cds, c.lds, c.rds, c.eds} {
		if w.wildcard && !w.answered {
			parts = append(parts, w.short+" (no response)")
		}
		var names []string
		for _, n := range w.names {
			if _, ok := w.byName[n]; !ok {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			parts = append(parts, w.short+" "+strings.Join(names, ", "))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

func (c *client) dump() ([]byte, error) {
	out := struct {
		ControlPlane string            `json:"controlPlane"`
		Clusters     []json.RawMessage `json:"clusters"`
		Listeners    []json.RawMessage `json:"listeners"`
		Routes       []json.RawMessage `json:"routes"`
		Endpoints    []json.RawMessage `json:"endpoints"`
		Nacks        []nack            `json:"nacks"`
	}{ControlPlane: c.controlPlane, Nacks: c.nacks}
	if out.Nacks == nil {
		out.Nacks = []nack{}
	}
	lists := []*[]json.RawMessage{&out.Clusters, &out.Listeners, &out.Routes, &out.Endpoints}
	for i, w := range []*watch{c.cds, c.lds, c.rds, c.eds} {
		*lists[i] = []json.RawMessage{}
		for _, name := range sortedKeys(w.byName) {
			j, err := toJSON(w.byName[name])
			if err != nil {
				return nil, fmt.Errorf("cannot print %s %s: %v", w.short, name, err)
			}
			*lists[i] = append(*lists[i], j)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "&" and "<" in regexes and headers readable
	err := enc.Encode(out)
	return b.Bytes(), err
}

func sorted(set map[string]bool) []string {
	var s []string
	for k := range set {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func sortedKeys(m map[string]proto.Message) []string {
	set := map[string]bool{}
	for k := range m {
		set[k] = true
	}
	return sorted(set)
}
