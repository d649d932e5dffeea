<?php

namespace Hurah\Types\Exception;

/** Stand-in for hurah/data-types' NullPointerException (final, as there). */
final class NullPointerException extends HurahException
{
}
