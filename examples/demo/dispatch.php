<?php
use Hurah\Event\Context;
use Hurah\Event\Dispatcher;
use Hurah\Event\EventType;

$dispatcher = new Dispatcher($argv[1]);
// The README form: a string event type and an array payload.
$dispatcher->dispatch('product/stored', ['product_id' => 1, 'image' => '/img/1.jpg']);
$dispatcher->dispatch('product/stored', ['product_id' => 2, 'image' => '/img/2.jpg']);
// The original object form.
$dispatcher->dispatch(EventType::fromString('product/stored'), new Context(['product_id' => 3]));
$id = $dispatcher->dispatch('order/paid', ['order_id' => 77]);
echo "dispatched 4 events (last id $id)\n";
