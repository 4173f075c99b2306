package main

import (
	"bytes"
	"encoding/json"
	"errors"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// toJSON prints a resource as Envoy's config_dump does (camelCase names, typed Anys expanded).
// protojson aborts on an Any whose type is not linked in; such an Any is printed as
// {"@type": URL, "meshboxUnresolved": true} instead, so one unknown extension costs only itself.
func toJSON(m proto.Message) (json.RawMessage, error) {
	r := &resolver{Types: protoregistry.GlobalTypes, missed: map[string]bool{}}
	j, err := protojson.MarshalOptions{Resolver: r}.Marshal(m)
	if err != nil || len(r.missed) == 0 {
		return j, err
	}
	var tree interface{}
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber() // keep numbers exactly as protojson wrote them
	if err := d.Decode(&tree); err != nil {
		return nil, err
	}
	return json.Marshal(markUnresolved(tree, r.missed))
}

// resolver is the linked-in registry, except that an unknown Any type decodes as an Empty
// (its bytes dropped) and is remembered for markUnresolved.
type resolver struct {
	*protoregistry.Types
	missed map[string]bool
}

func (r *resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	mt, err := r.Types.FindMessageByURL(url)
	if errors.Is(err, protoregistry.NotFound) {
		r.missed[url] = true
		return (&emptypb.Empty{}).ProtoReflect().Type(), nil
	}
	return mt, err
}

func markUnresolved(v interface{}, missed map[string]bool) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		if url, ok := t["@type"].(string); ok && missed[url] {
			return map[string]interface{}{"@type": url, "meshboxUnresolved": true}
		}
		for k, e := range t {
			t[k] = markUnresolved(e, missed)
		}
	case []interface{}:
		for i, e := range t {
			t[i] = markUnresolved(e, missed)
		}
	}
	return v
}
