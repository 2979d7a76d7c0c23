package stacks

import (
	"fmt"
	"strings"
	"testing"
)

// matchEvent reports whether an EventBridge event matches pattern, for the
// part of the pattern syntax the stacks use, as the EventBridge user guide
// ("Event patterns", "Content filtering") defines it: every field of the
// pattern must match; a list of values matches if any does; a field that
// is a list in the event matches if any element does; values are exact
// strings, numbers or booleans, or {"prefix": s}, {"suffix": s},
// {"anything-but": [...]} or {"exists": bool}. Any other operator fails
// the test rather than match by accident. (No Go implementation of
// EventBridge's matcher is served here; quamina is not.)
func matchEvent(t *testing.T, pattern, event map[string]any) bool {
	t.Helper()
	for key, want := range pattern {
		got, present := event[key]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matchEvent(t, want, sub) {
				return false
			}
		case []any:
			if !matchField(t, want, got, present) {
				return false
			}
		default:
			t.Fatalf("event pattern field %q: want an object or a list, got %T", key, want)
		}
	}
	return true
}

// matchField matches one field of the event against the pattern's list.
func matchField(t *testing.T, want []any, got any, present bool) bool {
	t.Helper()
	values := []any{got}
	if list, ok := got.([]any); ok {
		values = list
	}
	for _, w := range want {
		if op, ok := w.(map[string]any); ok && op["exists"] != nil {
			if op["exists"] == present {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchValue(t, w, v) {
				return true
			}
		}
	}
	return false
}

func matchValue(t *testing.T, want, got any) bool {
	t.Helper()
	op, ok := want.(map[string]any)
	if !ok {
		return fmt.Sprint(want) == fmt.Sprint(got) && fmt.Sprintf("%T", want) == fmt.Sprintf("%T", got)
	}
	if len(op) != 1 {
		t.Fatalf("event pattern operator %v: want exactly one operator", op)
	}
	s, isString := got.(string)
	for name, arg := range op {
		switch name {
		case "prefix":
			return isString && strings.HasPrefix(s, arg.(string))
		case "suffix":
			return isString && strings.HasSuffix(s, arg.(string))
		case "anything-but":
			list, isList := arg.([]any)
			if !isList {
				list = []any{arg}
			}
			for _, no := range list {
				if matchValue(t, no, got) {
					return false
				}
			}
			return true
		}
		t.Fatalf("event pattern operator %q is not one this matcher knows", name)
	}
	return false
}

func TestEventPatternMatcher(t *testing.T) {
	event := map[string]any{
		"source":    "aws.ecs",
		"resources": []any{"arn:a", "arn:b"},
		"detail":    map[string]any{"reason": "RESOURCE:FARGATE", "count": 2.0},
	}
	for _, tt := range []struct {
		pattern string
		want    bool
	}{
		{`{"source": ["aws.ecs"]}`, true},
		{`{"source": ["aws.ec2", "aws.ecs"]}`, true},
		{`{"source": ["aws.ec2"]}`, false},
		{`{"resources": ["arn:b"]}`, true},
		{`{"resources": ["arn:c"]}`, false},
		{`{"detail": {"reason": [{"prefix": "RESOURCE:"}]}}`, true},
		{`{"detail": {"reason": [{"prefix": "ENI"}]}}`, false},
		{`{"detail": {"reason": [{"suffix": ":FARGATE"}]}}`, true},
		{`{"detail": {"reason": [{"suffix": "SPOT"}]}}`, false},
		{`{"detail": {"reason": [{"anything-but": ["x"]}]}}`, true},
		{`{"detail": {"reason": [{"anything-but": "RESOURCE:FARGATE"}]}}`, false},
		{`{"detail": {"missing": [{"exists": false}]}}`, true},
		{`{"detail": {"missing": [{"exists": true}]}}`, false},
		{`{"detail": {"missing": ["x"]}}`, false},
		{`{"detail": {"count": [2]}}`, true},
		{`{"detail": {"count": ["2"]}}`, false},
		{`{"source": ["aws.ecs"], "detail": {"reason": ["RESOURCE:MEMORY"]}}`, false},
		{`{"nested": {"a": ["b"]}}`, false},
	} {
		if got := matchEvent(t, decode(t, tt.pattern), event); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.pattern, got, tt.want)
		}
	}
}
