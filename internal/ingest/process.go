package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

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
	return processEvents(ctx, db, d.StoreID, events)
}

// processEvents saves a parsed delivery's events; see Process.
func processEvents(ctx context.Context, db store.DB, storeID int64, events []shop.Event) (Outcome, error) {
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
			err = store.OrdersUpsert(ctx, db, storeID, run)
			applied += len(run) - 1
			i += len(run) - 1
		} else {
			err = apply(ctx, db, storeID, ev)
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
		return store.OrderUpsert(ctx, db, storeID, ev.Order)
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

// ProcessMany processes deliveries in one transaction, with the product
// statistics they change (store.QueueStatsSync). Deliveries that hold
// only orders (most traffic) are saved together in one round trip, their new
// customers and products first and in key order so that concurrent workers
// never deadlock; any other delivery is saved event by event, as Process
// does. giveUp turns a retryable error into a failed delivery, for a job's
// last attempt. An error means the transaction must roll back; the caller
// may retry the deliveries one by one to find the one that failed.
func ProcessMany(ctx context.Context, tx store.DB, ds []store.Delivery, giveUp bool) error {
	var finish pgx.Batch
	byStore := map[int64][]*shop.Order{}
	var storeIDs, processed []int64
	for _, d := range ds {
		events, err := Parse(d)
		if err != nil {
			store.QueueInboxFinish(&finish, d.ID, store.InboxFailed, err.Error())
			continue
		}
		if orders, ignored, ok := onlyOrders(events); ok {
			if len(orders) == 0 {
				store.QueueInboxFinish(&finish, d.ID, store.InboxIgnored, ignored)
				continue
			}
			if byStore[d.StoreID] == nil {
				storeIDs = append(storeIDs, d.StoreID)
			}
			byStore[d.StoreID] = append(byStore[d.StoreID], orders...)
			processed = append(processed, d.ID)
			continue
		}
		out, err := processEvents(ctx, tx, d.StoreID, events) // parsed above
		if err != nil && !giveUp {
			return err
		}
		if err != nil {
			out = Outcome{Status: store.InboxFailed, Reason: err.Error()}
		}
		store.QueueInboxFinish(&finish, d.ID, out.Status, out.Reason)
	}
	var b pgx.Batch
	slices.Sort(storeIDs)
	for _, id := range storeIDs {
		store.QueueOrders(&b, id, byStore[id])
	}
	for _, id := range touchedStores(ds) {
		store.QueueStatsSync(&b, id) // after every write to the stores' orders
	}
	if len(processed) > 0 {
		store.QueueInboxProcessed(&b, processed)
	}
	b.QueuedQueries = append(b.QueuedQueries, finish.QueuedQueries...)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("save %d deliveries: %w", len(ds), err)
	}
	return nil
}

// touchedStores returns the stores of the deliveries, sorted.
func touchedStores(ds []store.Delivery) []int64 {
	ids := make([]int64, 0, 1)
	for _, d := range ds {
		ids = append(ids, d.StoreID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// onlyOrders returns a delivery's orders when it holds nothing else (but
// ignored events), with the reason it was ignored when it holds no order.
func onlyOrders(events []shop.Event) (orders []*shop.Order, ignored string, ok bool) {
	for _, ev := range events {
		switch {
		case ev.Kind == shop.KindIgnored:
			ignored = ev.Reason
		case ev.Kind == shop.KindOrder && ev.Order != nil:
			orders = append(orders, ev.Order)
		default:
			return nil, "", false
		}
	}
	return orders, ignored, true
}
