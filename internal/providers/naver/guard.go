package naver

import (
	"context"
	"errors"

	"github.com/talkrelay/talkrelay/internal/providers"
)

var _ providers.TemplateLookup = (*Client)(nil)

// TemplateProblem implements providers.TemplateLookup with the template
// query of the sender's channel.
func (c *Client) TemplateProblem(ctx context.Context, sender, template string) (string, error) {
	t, err := c.Template(ctx, sender, template)
	switch {
	case errors.Is(err, ErrNotFound):
		return "template " + template + " does not exist for channel " + sender, nil
	case err != nil:
		return "", err
	}
	if why := t.Usable(); why != "" {
		return "template " + template + ": " + why, nil
	}
	return "", nil
}
