<?php

namespace Hurah\Types\Exception;

/** Stand-in for hurah/data-types' RuntimeException (final, as there). */
final class RuntimeException extends HurahException
{
}
