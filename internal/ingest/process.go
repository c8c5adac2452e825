package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/remarket/remarket/internal/shop"
	"github.com/remarket/remarket/internal/store"
)

// Outcome is what processing made of a delivery.
type Outcome struct {
	Status string // store.InboxProcessed, InboxIgnored or InboxFailed
	Reason string // why it failed or was ignored
}

// Parse turns a stored delivery into events according to its platform.
func Parse(d store.Delivery) ([]shop.Event, error) {
	switch shop.Platform(d.Platform) {
	case shop.Shopify:
		return ParseShopify(d.Topic, d.Body)
	case shop.WooCommerce:
		return ParseWooCommerce(d.Topic, d.Body)
	case shop.Generic:
		return ParseGeneric(d.Body)
	}
	return nil, fmt.Errorf("unknown platform %q", d.Platform)
}

// Process parses a delivery and saves what it says through db, which should
// be the transaction that also finishes the delivery and its job. A body that
// cannot be parsed is an Outcome (failed, with the reason), not an error:
// parsing it again will not help until someone fixes the parser and replays.
// An error means "try again later" (a database problem, or a refund whose
// order has not arrived yet).
func Process(ctx context.Context, db store.DB, d store.Delivery) (Outcome, error) {
	events, err := Parse(d)
	if err != nil {
		return Outcome{Status: store.InboxFailed, Reason: err.Error()}, nil
	}
	applied := 0
	var ignored string
	for i := 0; i < len(events); i++ {
		ev := events[i]
		if ev.Kind == shop.KindIgnored {
			ignored = ev.Reason
			continue
		}
		var err error
		if run := orderRun(events[i:]); len(run) > 1 {
			// A backfill batch: its orders go to the database together.
			err = store.OrdersUpsert(ctx, db, d.StoreID, run)
			applied += len(run) - 1
			i += len(run) - 1
		} else {
			err = apply(ctx, db, d.StoreID, ev)
		}
		if err != nil {
			if errors.Is(err, store.ErrNoCustomer) || errors.Is(err, errNoData) {
				return Outcome{Status: store.InboxFailed, Reason: err.Error()}, nil
			}
			return Outcome{}, err
		}
		applied++
	}
	if applied == 0 {
		return Outcome{Status: store.InboxIgnored, Reason: ignored}, nil
	}
	return Outcome{Status: store.InboxProcessed}, nil
}

// orderRun returns the orders at the start of events, up to the first event
// of another kind.
func orderRun(events []shop.Event) []*shop.Order {
	var run []*shop.Order
	for _, ev := range events {
		if ev.Kind != shop.KindOrder || ev.Order == nil {
			break
		}
		run = append(run, ev.Order)
	}
	return run
}

func apply(ctx context.Context, db store.DB, storeID int64, ev shop.Event) error {
	switch {
	case ev.Kind == shop.KindOrder && ev.Order != nil:
		_, err := store.OrderUpsert(ctx, db, storeID, ev.Order)
		return err
	case ev.Kind == shop.KindRefund && ev.Refund != nil:
		return store.RefundApply(ctx, db, storeID, ev.Refund)
	case ev.Kind == shop.KindCheckout && ev.Checkout != nil:
		return store.CheckoutUpsert(ctx, db, storeID, ev.Checkout)
	case ev.Kind == shop.KindView && ev.View != nil:
		return store.ViewInsert(ctx, db, storeID, ev.View)
	case ev.Kind == shop.KindCustomer && ev.Customer != nil:
		_, err := store.CustomerUpsert(ctx, db, storeID, ev.Customer)
		return err
	case ev.Kind == shop.KindProduct && ev.Product != nil:
		return store.ProductUpsert(ctx, db, storeID, ev.Product)
	case ev.Kind == shop.KindRedact && ev.Customer != nil:
		return store.CustomerRedact(ctx, db, storeID, ev.Customer)
	case ev.Kind == shop.KindDelete && ev.Order != nil:
		return store.OrderCancel(ctx, db, storeID, ev.Order.ExternalID)
	}
	return fmt.Errorf("event %q: %w", ev.Kind, errNoData)
}

// errNoData marks an event the parser produced without its payload: a parser
// bug, which retrying cannot fix.
var errNoData = errors.New("event carries no data")
