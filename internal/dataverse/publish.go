package dataverse

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"sort"
	"strings"
)

// publishParameterXML builds the ParameterXml of PublishXml for the given
// tables: sorted, without duplicates, XML-escaped.
func publishParameterXML(entities []string) (string, error) {
	names := sortedUnique(entities)
	if len(names) == 0 {
		return "", errors.New("dataverse: PublishXml needs at least one table")
	}
	var b strings.Builder
	b.WriteString("<importexportxml><entities>")
	for _, n := range names {
		b.WriteString("<entity>")
		if err := xml.EscapeText(&b, []byte(n)); err != nil {
			return "", err
		}
		b.WriteString("</entity>")
	}
	b.WriteString("</entities></importexportxml>")
	return b.String(), nil
}

// sortedUnique returns the non-empty names of in, sorted, without duplicates.
func sortedUnique(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// PublishXML publishes the customizations of the given tables (POST
// PublishXml). Only one publish runs at a time per environment: a concurrent
// one fails with an error for which IsCustomizationLock is true. Use a
// Publisher to coalesce and serialise publishes.
func (c *Client) PublishXML(ctx context.Context, entities []string) error {
	param, err := publishParameterXML(entities)
	if err != nil {
		return err
	}
	return c.solutionOps.publish(func() error {
		_, err := c.Do(ctx, &Request{
			Method: http.MethodPost,
			Path:   "PublishXml",
			Body:   map[string]string{"ParameterXml": param},
		})
		return err
	})
}

// PublishAllXML publishes all customizations (POST PublishAllXml). The action
// takes no parameters; an empty JSON object is sent so that servers which
// expect a JSON body on POST are satisfied too.
func (c *Client) PublishAllXML(ctx context.Context) error {
	return c.solutionOps.publish(func() error {
		_, err := c.Do(ctx, &Request{Method: http.MethodPost, Path: "PublishAllXml", Body: json.RawMessage(`{}`)})
		return err
	})
}
