package enqueue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
)

// brandFlagsSet reports whether any of the Brand Message flags was given.
func (c *CLI) brandFlagsSet() bool {
	return c.Brand != "" || c.Bubble != "" || c.Targeting != "" || c.ImageURL != "" || c.ImageLink != "" || len(c.Button) > 0
}

// brand makes the brand object of a brandmessage from --brand and the
// flags that set its fields; the job's schema check judges the result.
func (c *CLI) brand() (*job.Brand, error) {
	b := &job.Brand{}
	if c.Brand != "" {
		data := []byte(c.Brand)
		if name, ok := strings.CutPrefix(c.Brand, "@"); ok {
			var err error
			if data, err = os.ReadFile(name); err != nil {
				return nil, fmt.Errorf("--brand: %w", err)
			}
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(b); err != nil {
			return nil, fmt.Errorf("--brand: not a brand object: %w", err)
		}
	}
	if c.Bubble != "" {
		b.Bubble = strings.ToUpper(c.Bubble)
	}
	if c.Targeting != "" {
		b.Targeting = strings.ToUpper(c.Targeting)
	}
	if c.Content != "" {
		b.Content = c.Content
	}
	if c.ImageURL != "" || c.ImageLink != "" {
		if c.ImageURL == "" {
			return nil, errors.New("--image-link: needs --image-url")
		}
		b.Image = &job.BrandImage{URL: c.ImageURL, Link: c.ImageLink}
	}
	for _, s := range c.Button {
		parts := strings.SplitN(s, ",", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("--button: %q is not TYPE,NAME[,URL]", s)
		}
		bt := job.Button{Type: strings.ToUpper(parts[0]), Name: parts[1]}
		if len(parts) == 3 {
			bt.URLMobile = parts[2]
		}
		b.Buttons = append(b.Buttons, bt)
	}
	if b.Bubble == "" {
		return nil, errors.New("--bubble: required for a brandmessage (or give the brand object with --brand)")
	}
	return b, nil
}
