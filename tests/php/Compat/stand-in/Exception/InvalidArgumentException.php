<?php

namespace Hurah\Types\Exception;

/** Stand-in for hurah/data-types' InvalidArgumentException (final, as there). */
final class InvalidArgumentException extends HurahException
{
}
