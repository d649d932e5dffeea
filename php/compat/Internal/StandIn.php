<?php
/*
 * Marks the extension's stand-ins for hurah/data-types classes (php/compat/Types/): `$x instanceof
 * \Hurah\Internal\StandIn` is true only when data-types is not installed. Internal.
 */

namespace Hurah\Internal;

interface StandIn
{
}
